#include "libs/go_text/go_text.h"

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace {

// UTF-8 encoding of a code point by the textbook bit layout, independent of the code under
// test. Surrogates and values above U+10FFFF are encoded too (as CESU/extended forms), so the
// tests can check that they are refused.
std::string Encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

bool IsSurrogate(uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// ---------------------------------------------------------------------------------------
// Utf8SequenceLength and IsValidUtf8

TEST(Utf8SequenceLengthTest, AcceptsEveryScalarValueAndNothingCutShort) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (IsSurrogate(cp)) continue;
    const std::string encoded = Encode(cp);
    ASSERT_EQ(Utf8SequenceLength(encoded), encoded.size()) << std::hex << cp;
    // Only the first sequence counts.
    ASSERT_EQ(Utf8SequenceLength(encoded + "\xFF"), encoded.size()) << std::hex << cp;
    if (encoded.size() > 1) {
      ASSERT_EQ(Utf8SequenceLength(absl::string_view(encoded).substr(0, encoded.size() - 1)), 0u)
          << std::hex << cp;
    }
  }
}

TEST(Utf8SequenceLengthTest, RefusesSurrogatesAndCodePointsAboveTheUnicodeRange) {
  for (uint32_t cp = 0xD800; cp <= 0xDFFF; ++cp) {
    ASSERT_EQ(Utf8SequenceLength(Encode(cp)), 0u) << std::hex << cp;
  }
  for (uint32_t cp : {0x110000u, 0x13FFFFu, 0x140000u, 0x1FFFFFu}) {
    EXPECT_EQ(Utf8SequenceLength(Encode(cp)), 0u) << std::hex << cp;
  }
}

TEST(Utf8SequenceLengthTest, RefusesOverlongEncodings) {
  EXPECT_EQ(Utf8SequenceLength("\xC0\xAF"), 0u);                        // '/' in two bytes
  EXPECT_EQ(Utf8SequenceLength("\xC1\xBF"), 0u);                        // U+007F in two bytes
  EXPECT_EQ(Utf8SequenceLength("\xE0\x80\xAF"), 0u);                    // '/' in three
  EXPECT_EQ(Utf8SequenceLength("\xE0\x9F\xBF"), 0u);                    // U+07FF in three
  EXPECT_EQ(Utf8SequenceLength("\xF0\x80\x80\xAF"), 0u);                // '/' in four
  EXPECT_EQ(Utf8SequenceLength("\xF0\x8F\xBF\xBF"), 0u);                // U+FFFF in four
  EXPECT_EQ(Utf8SequenceLength(absl::string_view("\xC0\x80", 2)), 0u);  // NUL, Java style
}

TEST(Utf8SequenceLengthTest, CountsOnlyCompleteValidSequencesOfEveryTwoAndThreeByteString) {
  // Exactly the encodings of U+0080..U+07FF, and of U+0800..U+FFFF minus the surrogates.
  size_t two = 0;
  for (int b0 = 0x80; b0 < 0x100; ++b0) {
    for (int b1 = 0; b1 < 0x100; ++b1) {
      const char s[2] = {static_cast<char>(b0), static_cast<char>(b1)};
      const size_t len = Utf8SequenceLength(absl::string_view(s, 2));
      ASSERT_TRUE(len == 0 || len == 2) << b0 << " " << b1;
      if (len == 2) ++two;
    }
  }
  EXPECT_EQ(two, 0x800u - 0x80u);
  size_t three = 0;
  for (int b0 = 0xE0; b0 < 0x100; ++b0) {
    for (int b1 = 0; b1 < 0x100; ++b1) {
      for (int b2 = 0; b2 < 0x100; ++b2) {
        const char s[3] = {static_cast<char>(b0), static_cast<char>(b1), static_cast<char>(b2)};
        if (Utf8SequenceLength(absl::string_view(s, 3)) == 3) ++three;
      }
    }
  }
  EXPECT_EQ(three, 0x10000u - 0x800u - 0x800u);
}

TEST(Utf8SequenceLengthTest, AsciiIsOneByteAndLoneContinuationOrInvalidBytesNone) {
  EXPECT_EQ(Utf8SequenceLength("a\xFF"), 1u);
  EXPECT_EQ(Utf8SequenceLength(absl::string_view("\0", 1)), 1u);
  EXPECT_EQ(Utf8SequenceLength(""), 0u);
  for (int b = 0x80; b < 0xC2; ++b) {
    EXPECT_EQ(Utf8SequenceLength(std::string(1, static_cast<char>(b)) + "\x80\x80\x80"), 0u) << b;
  }
  for (int b = 0xF5; b < 0x100; ++b) {
    EXPECT_EQ(Utf8SequenceLength(std::string(1, static_cast<char>(b)) + "\x80\x80\x80"), 0u) << b;
  }
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82"), 0u);  // € cut short
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82"
                               "a"),
            0u);                                      // € missing its last byte
  EXPECT_EQ(Utf8SequenceLength("\xF0\x9F\x98"), 0u);  // 😀 cut short
}

TEST(IsValidUtf8Test, AcceptsValidText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8(absl::string_view("a\0b", 3)));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xEF\xBF\xBD"));
  EXPECT_TRUE(IsValidUtf8("\xC2\x80\xC2\x9F"));                  // C1 controls are valid UTF-8
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF\xEE\x80\x80"));          // U+D7FF, U+E000
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF\xF0\x90\x80\x80"));  // U+10FFFF, U+10000
}

TEST(IsValidUtf8Test, RefusesInvalidText) {
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("abc\x80"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
  EXPECT_FALSE(IsValidUtf8("x\xE2\x82"));
  EXPECT_FALSE(IsValidUtf8("\xE2\x82\xAC\xE2\x82"));
}

// The eight-bytes-at-a-time ASCII skip must not step over a bad byte or a good sequence at any
// position or alignment.
TEST(IsValidUtf8Test, ChecksEveryPositionAroundTheAsciiFastPath) {
  for (size_t prefix = 0; prefix < 24; ++prefix) {
    for (size_t suffix = 0; suffix < 10; ++suffix) {
      const std::string head(prefix, 'a'), tail(suffix, 'z');
      EXPECT_FALSE(IsValidUtf8(head + "\xFF" + tail)) << prefix << " " << suffix;
      EXPECT_FALSE(IsValidUtf8(head + "\xE2\x82" + tail)) << prefix << " " << suffix;
      EXPECT_FALSE(IsValidUtf8(head + "\xED\xA0\x80" + tail)) << prefix << " " << suffix;
      EXPECT_TRUE(IsValidUtf8(head + "\xE2\x82\xAC" + tail)) << prefix << " " << suffix;
      EXPECT_TRUE(IsValidUtf8(head + "\xF0\x9F\x98\x80" + tail)) << prefix << " " << suffix;
    }
  }
  // A sequence cut short by the end of the input, right after a run of ASCII.
  EXPECT_FALSE(IsValidUtf8(std::string(16, 'a') + "\xF0\x9F\x98"));
}

// ---------------------------------------------------------------------------------------
// ToValidUtf8

TEST(ToValidUtf8Test, KeepsValidTextAsItIs) {
  for (absl::string_view s : {absl::string_view(""), absl::string_view("abc"),
                              absl::string_view("\xE2\x82\xAC\xF0\x9F\x98\x80\xEF\xBF\xBD")}) {
    EXPECT_EQ(ToValidUtf8(s), s);
  }
}

TEST(ToValidUtf8Test, ReplacesEachRunOfInvalidBytesWithOneReplacementCharacter) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a" + r + "b");
  EXPECT_EQ(ToValidUtf8("\xFF\xFE\x80"), r);
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), r);  // a surrogate is three bad bytes
  EXPECT_EQ(ToValidUtf8("\xC0\xAF"
                        "x"),
            r + "x");                            // overlong
  EXPECT_EQ(ToValidUtf8("x\xE2\x82"), "x" + r);  // cut short at the end
  EXPECT_EQ(ToValidUtf8("\xFF\xE2\x82\xAC\xFF"), r + "\xE2\x82\xAC" + r);
  EXPECT_TRUE(IsValidUtf8(ToValidUtf8("\xF4\x90\x80\x80 \xC1 \xF8\x88\x80\x80\x80")));
}

// ---------------------------------------------------------------------------------------
// GoQuote: expected texts are what Go's strconv.Quote returns for the same bytes.

TEST(GoQuoteTest, EscapesLikeStrconvQuote) {
  EXPECT_EQ(GoQuote(""), R"("")");
  EXPECT_EQ(GoQuote("job"), R"("job")");
  EXPECT_EQ(GoQuote("say \"hi\" \\ 'x'"), R"("say \"hi\" \\ 'x'")");
  EXPECT_EQ(GoQuote("\a\b\f\n\r\t\v"), R"("\a\b\f\n\r\t\v")");
  EXPECT_EQ(GoQuote(absl::string_view("\x00\x01\x1f\x7f", 4)), R"("\x00\x01\x1f\x7f")");
}

TEST(GoQuoteTest, KeepsValidMultiByteTextButEscapesC1Controls) {
  EXPECT_EQ(GoQuote("h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "\"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  EXPECT_EQ(GoQuote("\xC2\x80"
                    "a\xC2\x85\xC2\x9F"),
            R"("\u0080a\u0085\u009f")");
  EXPECT_EQ(GoQuote("\xC2\xA9"), "\"\xC2\xA9\"");  // U+00A9 is printable
}

// A body saved with a byte order mark, or a name with a no-break or zero-width space, gets an
// error naming what looks like a valid name unless these are shown (Go shows them too).
TEST(GoQuoteTest, EscapesInvisibleRunesThatMakeAWrongNameLookRight) {
  EXPECT_EQ(GoQuote("\xEF\xBB\xBFup"), R"("\ufeffup")");
  EXPECT_EQ(GoQuote("a\xC2\xA0"
                    "b"),
            R"("a\u00a0b")");
  EXPECT_EQ(GoQuote("a\xE2\x80\x8B"
                    "b\xE2\x80\xA8"
                    "c"),
            R"("a\u200bb\u2028c")");
  EXPECT_EQ(GoQuote("\xC2\xAD"), R"("\u00ad")");
}

TEST(GoQuoteTest, EscapesEachInvalidByte) {
  EXPECT_EQ(GoQuote("\xFF"), R"("\xff")");
  EXPECT_EQ(GoQuote("x\xC3"), R"("x\xc3")");
  EXPECT_EQ(GoQuote("\xC0\xAF"), R"("\xc0\xaf")");
  EXPECT_EQ(GoQuote("\xED\xA0\x80"), R"("\xed\xa0\x80")");
  EXPECT_EQ(GoQuote("\xF4\x90\x80\x80"), R"("\xf4\x90\x80\x80")");
  EXPECT_EQ(GoQuote("\xE2\x82"
                    "a"),
            R"("\xe2\x82a")");
}

TEST(GoQuoteTest, CutsAtMaxBytesOfInputAndSaysSo) {
  EXPECT_EQ(GoQuote("abcdef", 3), R"("abc"...)");
  EXPECT_EQ(GoQuote("abc", 3), R"("abc")");
  EXPECT_EQ(GoQuote("abc", 0), R"(""...)");
  EXPECT_EQ(GoQuote("", 0), R"("")");
  // Bytes of input count, not bytes of output.
  EXPECT_EQ(GoQuote("\n\n\n\n", 2), R"("\n\n"...)");
  const std::string message = GoQuote(std::string(5000, 'n'), 100);
  EXPECT_EQ(message, "\"" + std::string(100, 'n') + "\"...");
}

TEST(GoQuoteTest, NeverSplitsAValidSequenceAtTheCut) {
  const std::string text =
      "ab\xF0\x9F\x98\x80"
      "cd";  // 😀 is bytes 2 to 5
  EXPECT_EQ(GoQuote(text, 2), R"("ab"...)");
  EXPECT_EQ(GoQuote(text, 3), R"("ab"...)");
  EXPECT_EQ(GoQuote(text, 4), R"("ab"...)");
  EXPECT_EQ(GoQuote(text, 5), R"("ab"...)");
  EXPECT_EQ(GoQuote(text, 6), "\"ab\xF0\x9F\x98\x80\"...");
  EXPECT_EQ(GoQuote(text, 7),
            "\"ab\xF0\x9F\x98\x80"
            "c\"...");
  EXPECT_EQ(GoQuote("\xE2\x82\xAC\xE2\x82\xAC", 4), "\"\xE2\x82\xAC\"...");
  EXPECT_EQ(GoQuote("\xC2\x85\xC2\x85", 3), R"("\u0085"...)");
}

TEST(GoQuoteTest, InvalidBytesBeforeTheCutAreShown) {
  // Not a sequence split by the cut: these bytes are invalid whatever follows.
  EXPECT_EQ(GoQuote(std::string(300, '\xE2'), 4), R"("\xe2\xe2\xe2\xe2"...)");
  EXPECT_EQ(GoQuote("a\xFF"
                    "bcd",
                    3),
            R"("a\xffb"...)");
  EXPECT_EQ(GoQuote("ab\xE2\x82"
                    "c",
                    4),
            R"("ab\xe2\x82"...)");
}

}  // namespace
}  // namespace pushgate
