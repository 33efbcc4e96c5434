#include "libs/deflate/internal/huffman.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

namespace pushgate {
namespace deflate_internal {
namespace {

constexpr std::array<uint8_t, 256> MakeReversedBytes() {
  std::array<uint8_t, 256> table{};
  for (int b = 0; b < 256; ++b) {
    int r = 0;
    for (int bit = 0; bit < 8; ++bit) r |= ((b >> bit) & 1) << (7 - bit);
    table[b] = static_cast<uint8_t>(r);
  }
  return table;
}

constexpr std::array<uint8_t, 256> kReversedBytes = MakeReversedBytes();

// The low `bits` bits of `code` in reverse order.
uint16_t ReverseBits(uint32_t code, int bits) {
  const uint32_t reversed16 =
      (uint32_t{kReversedBytes[code & 0xff]} << 8) | kReversedBytes[(code >> 8) & 0xff];
  return static_cast<uint16_t>(reversed16 >> (16 - bits));
}

// next[l] = the first canonical code of length l, given count[l] codes of each length
// (RFC 1951 section 3.2.2; count[0] must be 0).
void FirstCodes(const int* count, uint32_t* next) {
  uint32_t code = 0;
  for (int bits = 1; bits < 16; ++bits) {
    code = (code + count[bits - 1]) << 1;
    next[bits] = code;
  }
}

}  // namespace

uint64_t BuildHuffmanCode(const uint32_t* freqs, int n, int max_bits, uint8_t* lengths,
                          uint16_t* codes) {
  std::memset(lengths, 0, n);
  std::memset(codes, 0, n * sizeof(codes[0]));
  // The used symbols, found through bit masks (which symbols are used is too irregular for
  // branches), in symbol order for the canonical codes, and as sort keys: by frequency, then
  // by symbol so the result is deterministic.
  int16_t symbols[kMaxSymbols];
  uint64_t sorted[kMaxSymbols];
  int used = 0;
  for (int base = 0; base < n; base += 64) {
    const int end = std::min(n, base + 64);
    uint64_t mask = 0;
    for (int s = base; s < end; ++s) mask |= uint64_t{freqs[s] != 0} << (s - base);
    for (; mask != 0; mask &= mask - 1) {
      const int s = base + __builtin_ctzll(mask);
      symbols[used] = static_cast<int16_t>(s);
      sorted[used++] = (uint64_t{freqs[s]} << 16) | static_cast<uint64_t>(s);
    }
  }
  if (used < 2) {
    // A lone code of length 1 would leave the code incomplete; a second, unsent symbol fills it.
    const int only = used == 1 ? symbols[0] : 0;
    const int other = only == 0 ? 1 : 0;
    lengths[only] = 1;
    lengths[other] = 1;
    codes[std::min(only, other)] = 0;
    codes[std::max(only, other)] = 1;
    return freqs[only];
  }
  std::sort(sorted, sorted + used);
  const auto symbol = [&](int i) { return static_cast<int>(sorted[i] & 0xffff); };

  // Huffman's construction with two queues: the sorted leaves and the internal nodes, which
  // are made in order of non-decreasing weight, so the two lightest are always at the fronts.
  uint64_t node_weight[kMaxSymbols];
  int16_t leaf_parent[kMaxSymbols];
  int16_t node_parent[kMaxSymbols];
  int next_leaf = 0;
  int next_node = 0;
  for (int k = 0; k < used - 1; ++k) {
    uint64_t weight = 0;
    for (int child = 0; child < 2; ++child) {
      if (next_leaf < used &&
          (next_node >= k || (sorted[next_leaf] >> 16) <= node_weight[next_node])) {
        weight += sorted[next_leaf] >> 16;
        leaf_parent[next_leaf++] = static_cast<int16_t>(k);
      } else {
        weight += node_weight[next_node];
        node_parent[next_node++] = static_cast<int16_t>(k);
      }
    }
    node_weight[k] = weight;
  }

  // Depths: the root is the last node made; every parent was made after its children.
  uint16_t node_depth[kMaxSymbols];
  node_depth[used - 2] = 0;
  for (int k = used - 3; k >= 0; --k) node_depth[k] = node_depth[node_parent[k]] + 1;
  // count[l]: how many symbols get length l, leaves deeper than max_bits counted at max_bits.
  int count[16] = {};
  bool clamped = false;
  for (int i = 0; i < used; ++i) {
    const int depth = node_depth[leaf_parent[i]] + 1;
    clamped |= depth > max_bits;
    ++count[std::min(depth, max_bits)];
  }

  if (clamped) {
    // The clamped lengths over-fill the code space. In units of 2^-max_bits, each step below
    // frees exactly one unit: a leaf at the deepest length l < max_bits becomes a node whose
    // children are that leaf and one leaf taken from max_bits. The excess is always smaller
    // than count[max_bits] (each clamped leaf adds less than one unit), so the loop ends with
    // a complete code.
    uint64_t kraft = 0;
    for (int l = 1; l <= max_bits; ++l) kraft += uint64_t(count[l]) << (max_bits - l);
    const uint64_t full = uint64_t{1} << max_bits;
    for (; kraft > full; --kraft) {
      int l = max_bits - 1;
      while (count[l] == 0) --l;
      --count[l];
      count[l + 1] += 2;
      --count[max_bits];
    }
  }

  // The least frequent symbols take the longest codes.
  uint64_t bits = 0;
  int i = 0;
  for (int l = max_bits; l >= 1; --l) {
    for (int c = 0; c < count[l]; ++c, ++i) {
      lengths[symbol(i)] = static_cast<uint8_t>(l);
      bits += (sorted[i] >> 16) * l;
    }
  }

  // Canonical codes: within a length, consecutive in symbol order.
  uint32_t next[16];
  FirstCodes(count, next);
  for (int k = 0; k < used; ++k) {
    const int s = symbols[k];
    const int len = lengths[s];
    codes[s] = ReverseBits(next[len]++, len);
  }
  return bits;
}

void BuildCanonicalCodes(const uint8_t* lengths, int n, uint16_t* codes) {
  int count[16] = {};
  for (int s = 0; s < n; ++s) ++count[lengths[s]];
  count[0] = 0;
  uint32_t next[16];
  FirstCodes(count, next);
  for (int s = 0; s < n; ++s) {
    const int len = lengths[s];
    codes[s] = len == 0 ? 0 : ReverseBits(next[len]++, len);
  }
}

}  // namespace deflate_internal
}  // namespace pushgate
