#include "libs/text_parser/internal/scan.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/numeric/bits.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace text_parser_internal {
namespace {

// Every stop position, with the token at every offset in a buffer and the limit at every
// place, against a byte-by-byte scan.
TEST(ScanTest, FindValueStopAgreesWithAByteScan) {
  const char stops[] = {'"', '\\', '\n', '\x80', '\xff', '\xc3'};
  for (char stop : stops) {
    for (size_t len = 0; len < 40; ++len) {
      for (size_t at = 0; at <= len; ++at) {
        std::string buf(len, 'a');
        if (at < len) buf[at] = stop;
        // Bytes after the limit that would stop the scan must not be reported.
        buf += "\"\\\xff\"";
        for (size_t limit = 0; limit <= len; ++limit) {
          const char* got = FindValueStop(buf.data(), buf.data() + limit, buf.data() + buf.size());
          const size_t want = at < limit ? at : limit;
          ASSERT_EQ(got - buf.data(), static_cast<ptrdiff_t>(want))
              << "stop " << int(stop) << " at " << at << " limit " << limit;
        }
      }
    }
  }
}

TEST(ScanTest, OnlyTheLowestMatchCountsWhenSeveralAreNear) {
  // A match directly before another equal byte is where the borrow trick over-reports.
  const std::string buf = "ab\"\"\"cdefgh\"\\";
  EXPECT_EQ(FindValueStop(buf.data(), buf.data() + buf.size(), buf.data() + buf.size()),
            buf.data() + 2);
  const std::string blanks = "12345 \t  6";
  EXPECT_EQ(FindBlank(blanks.data(), blanks.data() + blanks.size(), blanks.data() + blanks.size()),
            blanks.data() + 5);
}

TEST(ScanTest, FindBlankFindsSpacesAndTabsOnly) {
  for (char blank : {' ', '\t'}) {
    for (size_t len = 1; len < 24; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string buf(len, '7');
        buf[at] = blank;
        buf[0] = at == 0 ? blank : '\n';  // newlines and other bytes are not blanks
        const char* got = FindBlank(buf.data(), buf.data() + len, buf.data() + len);
        ASSERT_EQ(got - buf.data(), static_cast<ptrdiff_t>(at));
      }
      const std::string none(len, '\r');
      EXPECT_EQ(FindBlank(none.data(), none.data() + len, none.data() + len), none.data() + len);
    }
  }
}

bool IsLabelChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}
bool IsMetricChar(unsigned char c) { return IsLabelChar(c) || c == ':'; }

// Every byte value, after every name character, at every place in the 16- and 8-byte steps and
// the bytes after them: `find_end` must stop at the first byte `is_name_char` refuses.
template <typename FindEnd>
void ExpectStopsOutsideTheClass(FindEnd find_end, bool (*is_name_char)(unsigned char),
                                const std::string& name_chars) {
  for (int stop = 0; stop < 256; ++stop) {
    for (char before : name_chars) {
      for (size_t at = 0; at < 30; ++at) {
        std::string buf(30, before);
        buf[at] = static_cast<char>(stop);
        const char* got = find_end(buf.data(), buf.data() + buf.size(), buf.data() + buf.size());
        const size_t want = is_name_char(static_cast<unsigned char>(stop)) ? buf.size() : at;
        ASSERT_EQ(got - buf.data(), static_cast<ptrdiff_t>(want))
            << "byte " << stop << " after '" << before << "' at " << at;
      }
    }
  }
}

TEST(ScanTest, FindLabelNameEndStopsAtTheFirstByteOutsideTheClass) {
  ExpectStopsOutsideTheClass(FindLabelNameEnd, IsLabelChar, "azAZ09_mM5");
}

TEST(ScanTest, FindMetricNameEndStopsAtTheFirstByteOutsideTheClass) {
  ExpectStopsOutsideTheClass(FindMetricNameEnd, IsMetricChar, "azAZ09_:mM5");
}

TEST(ScanTest, FindTokenEndStopsAtBlanksAndLineEnds) {
  for (int stop = 0; stop < 256; ++stop) {
    const bool stops = stop == ' ' || stop == '\t' || stop == '\r' || stop == '\n';
    for (size_t at = 0; at < 30; ++at) {
      std::string buf(30, '1');
      buf[at] = static_cast<char>(stop);
      const char* got = FindTokenEnd(buf.data(), buf.data() + buf.size(), buf.data() + buf.size());
      ASSERT_EQ(got - buf.data(), static_cast<ptrdiff_t>(stops ? at : buf.size()))
          << "byte " << stop << " at " << at;
    }
  }
}

// Each class says the same of every byte value, whichever width asks: the word and byte forms
// are what runs where SSE2 is missing, so they are checked here too.
template <typename Class>
void ExpectWidthsAgree(const char* name) {
  for (int c = 0; c < 256; ++c) {
    for (char filler : {'a', '0', ' ', '"', '\xff'}) {
      if (Class::Byte(static_cast<unsigned char>(filler))) continue;  // need a non-member filler
      for (int at = 0; at < 16; ++at) {
        char bytes[16];
        std::memset(bytes, filler, sizeof(bytes));
        bytes[at] = static_cast<char>(c);
        const bool in = Class::Byte(static_cast<unsigned char>(c));
        uint64_t word;
        std::memcpy(&word, bytes + (at & 8), sizeof(word));
        const uint64_t word_hits = Class::WordHits(word);
        ASSERT_EQ(word_hits != 0, in) << name << " byte " << c << " at " << at;
        if (in) {
          ASSERT_EQ(absl::countr_zero(word_hits) >> 3, at & 7) << name << " byte " << c;
        }
#ifdef __SSE2__
        const unsigned vector_hits =
            Class::VectorHits(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes)));
        ASSERT_EQ(vector_hits, in ? 1u << at : 0u) << name << " byte " << c << " at " << at;
#endif
      }
    }
  }
}

TEST(ScanTest, ClassesAgreeAtEveryWidth) {
  ExpectWidthsAgree<ValueStop>("ValueStop");
  ExpectWidthsAgree<NotLabelChar>("NotLabelChar");
  ExpectWidthsAgree<NotMetricChar>("NotMetricChar");
  ExpectWidthsAgree<Blank>("Blank");
  ExpectWidthsAgree<TokenStop>("TokenStop");
}

// Bodies of every length around the 64-byte window, stops anywhere, questions in the order the
// fast path asks them (forward from the last answer) and out of it: always FindValueStop's answer.
TEST(ScanTest, ValueStopFinderAgreesWithFindValueStop) {
  std::mt19937_64 rng(7);
  const char alphabet[] = {'a', 'b', '=', ',', '"', '\\', '\n', '\x80', '\xc3'};
  for (size_t len = 0; len < 200; ++len) {
    for (int round = 0; round < 20; ++round) {
      std::vector<char> body(len);
      // Sparse stops, so that some windows have none at all.
      const int density = 1 + static_cast<int>(rng() % 40);
      for (char& c : body) {
        c = static_cast<int>(rng() % density) == 0 ? alphabet[2 + rng() % 7] : alphabet[rng() % 4];
      }
      const char* const begin = body.data();
      const char* const end = begin + len;
      const size_t from = len == 0 ? 0 : rng() % len;
      ValueStopFinder finder(begin + from, end);
      size_t at = from;
      for (int question = 0; question < 12 && at <= len; ++question) {
        const char* got = finder.Next(begin + at);
        ASSERT_EQ(got, FindValueStop(begin + at, end, end))
            << "length " << len << " from " << from << " at " << at;
        // Mostly just past the answer, as the fast path asks; sometimes back or far ahead.
        const size_t next = static_cast<size_t>(got - begin) + 1 + rng() % 8;
        at = rng() % 5 == 0 ? rng() % (len + 1) : next;
      }
    }
  }
}

// Every length up to a few words, with one differing byte at every place (or none).
TEST(ScanTest, EqualBytesAgreesWithMemcmp) {
  for (size_t n = 0; n < 40; ++n) {
    const std::string a(n, 'q');
    for (size_t at = 0; at <= n; ++at) {
      std::string b = a;
      if (at < n) b[at] = 'r';
      ASSERT_EQ(EqualBytes(a.data(), b.data(), n), at == n) << "length " << n << " at " << at;
    }
  }
}

}  // namespace
}  // namespace text_parser_internal
}  // namespace pushgate
