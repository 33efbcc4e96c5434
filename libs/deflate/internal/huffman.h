// Length-limited Huffman codes for the DEFLATE encoder in //libs/deflate: code lengths from
// symbol frequencies (RFC 1951 caps literal/length and distance codes at 15 bits, code-length
// codes at 7), and the canonical codes those lengths define.
#ifndef PUSHGATE_LIBS_DEFLATE_INTERNAL_HUFFMAN_H_
#define PUSHGATE_LIBS_DEFLATE_INTERNAL_HUFFMAN_H_

#include <cstdint>

namespace pushgate {
namespace deflate_internal {

// The largest alphabet DEFLATE codes (literal/length: 286 used of 288).
inline constexpr int kMaxSymbols = 288;

// Sets `lengths[0..n)` to code lengths for the frequencies `freqs[0..n)` (n <= kMaxSymbols,
// 2 <= max_bits <= 15; an unused symbol gets length 0), and `codes[0..n)` to the canonical
// codes of those lengths as BuildCanonicalCodes would (0 for unused symbols):
//  - no length exceeds max_bits;
//  - the code is complete (the Kraft sum of the used lengths is exactly 1), which zlib's
//    inflate demands of every code with more than one symbol. When fewer than two symbols
//    are used, one or two of symbols 0 and 1 get length 1 besides the used one, so the code
//    is still complete (the extra symbol is never sent);
//  - a more frequent symbol never gets a longer code than a less frequent one, and when no
//    Huffman code length exceeds max_bits the lengths are an optimal (Huffman) code.
// Returns the bits the symbols take with this code: the sum of freqs[s] * lengths[s].
// Requires n >= 2 and 2^max_bits >= n.
uint64_t BuildHuffmanCode(const uint32_t* freqs, int n, int max_bits, uint8_t* lengths,
                          uint16_t* codes);

// Sets `codes[s]` to the canonical code (RFC 1951 section 3.2.2) of each symbol with
// lengths[s] > 0, bit-reversed so that writing its low lengths[s] bits least significant
// first sends the code most significant bit first, as DEFLATE requires.
void BuildCanonicalCodes(const uint8_t* lengths, int n, uint16_t* codes);

}  // namespace deflate_internal
}  // namespace pushgate

#endif  // PUSHGATE_LIBS_DEFLATE_INTERNAL_HUFFMAN_H_
