#include "libs/deflate/internal/huffman.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pushgate {
namespace deflate_internal {
namespace {

// BuildHuffmanCode's lengths; its codes must be the canonical codes of those lengths, and it
// must return their cost.
std::vector<uint8_t> Lengths(const std::vector<uint32_t>& freqs, int max_bits) {
  const int n = static_cast<int>(freqs.size());
  std::vector<uint8_t> lengths(n, 99);
  std::vector<uint16_t> codes(n, 0xabcd);
  const uint64_t bits = BuildHuffmanCode(freqs.data(), n, max_bits, lengths.data(), codes.data());
  uint64_t cost = 0;
  for (int s = 0; s < n; ++s) cost += uint64_t{freqs[s]} * lengths[s];
  EXPECT_EQ(bits, cost) << "the returned size is not what the lengths cost";
  std::vector<uint16_t> canonical(n);
  BuildCanonicalCodes(lengths.data(), n, canonical.data());
  EXPECT_EQ(codes, canonical);
  return lengths;
}

// Kraft sum of the used lengths, in units of 2^-15.
uint64_t KraftSum(const std::vector<uint8_t>& lengths) {
  uint64_t sum = 0;
  for (uint8_t l : lengths) {
    if (l != 0) sum += uint64_t{1} << (15 - l);
  }
  return sum;
}

uint64_t Cost(const std::vector<uint32_t>& freqs, const std::vector<uint8_t>& lengths) {
  uint64_t cost = 0;
  for (size_t s = 0; s < freqs.size(); ++s) cost += uint64_t{freqs[s]} * lengths[s];
  return cost;
}

// The cost of an unrestricted Huffman code: the sum of the merged weights.
uint64_t HuffmanCost(const std::vector<uint32_t>& freqs) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> heap;
  for (uint32_t f : freqs) {
    if (f != 0) heap.push(f);
  }
  uint64_t cost = 0;
  while (heap.size() > 1) {
    const uint64_t a = heap.top();
    heap.pop();
    const uint64_t b = heap.top();
    heap.pop();
    cost += a + b;
    heap.push(a + b);
  }
  return cost;
}

// Every property the header promises, for one frequency table.
void ExpectValidCode(const std::vector<uint32_t>& freqs, int max_bits) {
  const std::vector<uint8_t> lengths = Lengths(freqs, max_bits);
  int used = 0;
  for (size_t s = 0; s < freqs.size(); ++s) {
    EXPECT_LE(lengths[s], max_bits) << "symbol " << s;
    if (freqs[s] != 0) {
      ++used;
      EXPECT_GT(lengths[s], 0) << "used symbol " << s << " has no code";
    }
  }
  EXPECT_EQ(KraftSum(lengths), uint64_t{1} << 15) << "the code is not complete";
  for (size_t a = 0; a < freqs.size(); ++a) {
    for (size_t b = 0; b < freqs.size(); ++b) {
      if (freqs[a] != 0 && freqs[b] != 0 && freqs[a] > freqs[b]) {
        EXPECT_LE(lengths[a], lengths[b]) << "more frequent " << a << " longer than " << b;
      }
    }
  }
  if (used >= 2) {
    const uint64_t optimal = HuffmanCost(freqs);
    const uint64_t cost = Cost(freqs, lengths);
    EXPECT_GE(cost, optimal);
    if (*std::max_element(lengths.begin(), lengths.end()) < max_bits) {
      EXPECT_EQ(cost, optimal) << "no limit was needed, so the code should be optimal";
    }
  }
}

std::vector<uint32_t> Fibonacci(int n) {
  std::vector<uint32_t> f(n);
  f[0] = 1;
  if (n > 1) f[1] = 1;
  for (int i = 2; i < n; ++i) f[i] = f[i - 1] + f[i - 2];
  return f;
}

TEST(BuildHuffmanCodeTest, FibonacciFrequenciesAreLimitedTo15Bits) {
  // Unlimited Huffman gives Fibonacci weights a depth of n - 1: 29 here.
  const std::vector<uint32_t> freqs = Fibonacci(30);
  ExpectValidCode(freqs, 15);
  const std::vector<uint8_t> lengths = Lengths(freqs, 15);
  EXPECT_EQ(*std::max_element(lengths.begin(), lengths.end()), 15);
}

TEST(BuildHuffmanCodeTest, FibonacciFrequenciesAreLimitedTo7Bits) {
  ExpectValidCode(Fibonacci(19), 7);
}

TEST(BuildHuffmanCodeTest, FullLiteralAlphabetWithSkewedCounts) {
  // 286 symbols (all of literal/length) where a Fibonacci tail forces limiting.
  std::vector<uint32_t> freqs(286, 1);
  const std::vector<uint32_t> fib = Fibonacci(32);
  for (int i = 0; i < 32; ++i) freqs[i * 7] = fib[i];
  ExpectValidCode(freqs, 15);
}

TEST(BuildHuffmanCodeTest, PowersOfTwo) {
  std::vector<uint32_t> freqs;
  for (int i = 0; i < 30; ++i) freqs.push_back(uint32_t{1} << i);
  ExpectValidCode(freqs, 15);
}

TEST(BuildHuffmanCodeTest, EqualFrequenciesGiveBalancedLengths) {
  const std::vector<uint32_t> freqs(256, 5);
  const std::vector<uint8_t> lengths = Lengths(freqs, 15);
  for (uint8_t l : lengths) EXPECT_EQ(l, 8);
}

TEST(BuildHuffmanCodeTest, OneOrNoUsedSymbolStillMakesACompleteCode) {
  std::vector<uint32_t> freqs(30, 0);
  std::vector<uint8_t> lengths = Lengths(freqs, 15);
  EXPECT_EQ(KraftSum(lengths), uint64_t{1} << 15);

  freqs[17] = 4;
  lengths = Lengths(freqs, 15);
  EXPECT_EQ(lengths[17], 1);
  EXPECT_EQ(KraftSum(lengths), uint64_t{1} << 15);

  freqs.assign(30, 0);
  freqs[0] = 9;
  lengths = Lengths(freqs, 15);
  EXPECT_EQ(lengths[0], 1);
  EXPECT_EQ(KraftSum(lengths), uint64_t{1} << 15);
}

TEST(BuildHuffmanCodeTest, RandomTables) {
  std::mt19937 rng(42);
  for (int iter = 0; iter < 300; ++iter) {
    const int n = 2 + static_cast<int>(rng() % 287);
    const int max_bits = n <= 19 && rng() % 2 ? 7 : 15;
    std::vector<uint32_t> freqs(n);
    const int shape = iter % 3;
    for (int s = 0; s < n; ++s) {
      const uint32_t r = rng();
      if (r % 4 == 0) continue;  // unused symbols
      // Uniform, heavy-tailed and exponential shapes.
      freqs[s] = shape == 0   ? 1 + r % 1000
                 : shape == 1 ? 1 + (r % 100000) / (1 + r % 997)
                              : uint32_t{1} << (r % 24);
    }
    SCOPED_TRACE(testing::Message() << "iteration " << iter);
    ExpectValidCode(freqs, max_bits);
  }
}

TEST(BuildCanonicalCodesTest, MatchesTheRfcExample) {
  // RFC 1951 section 3.2.2: lengths (3, 3, 3, 3, 3, 2, 4, 4) for A..H give
  // 010 011 100 101 110 00 1110 1111; codes come back bit-reversed.
  const uint8_t lengths[8] = {3, 3, 3, 3, 3, 2, 4, 4};
  uint16_t codes[8];
  BuildCanonicalCodes(lengths, 8, codes);
  const auto reversed = [](uint16_t code, int bits) {
    int r = 0;
    for (int i = 0; i < bits; ++i) r |= ((code >> i) & 1) << (bits - 1 - i);
    return r;
  };
  const int expected[8] = {0b010, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111};
  for (int s = 0; s < 8; ++s) EXPECT_EQ(reversed(codes[s], lengths[s]), expected[s]) << s;
}

TEST(BuildCanonicalCodesTest, CodesAreDistinctPrefixFree) {
  std::vector<uint32_t> freqs = Fibonacci(40);
  std::vector<uint8_t> lengths = Lengths(freqs, 15);
  std::vector<uint16_t> codes(lengths.size());
  BuildCanonicalCodes(lengths.data(), static_cast<int>(lengths.size()), codes.data());
  // As paths from the root (bits in send order), no code is a prefix of another.
  for (size_t a = 0; a < codes.size(); ++a) {
    for (size_t b = 0; b < codes.size(); ++b) {
      if (a == b || lengths[a] > lengths[b]) continue;
      const uint32_t mask = (uint32_t{1} << lengths[a]) - 1;
      EXPECT_NE(codes[a], codes[b] & mask) << a << " is a prefix of " << b;
    }
  }
}

}  // namespace
}  // namespace deflate_internal
}  // namespace pushgate
