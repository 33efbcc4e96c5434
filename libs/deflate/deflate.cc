#include "libs/deflate/deflate.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/base/optimization.h"
#include "absl/strings/string_view.h"
#include "libs/deflate/internal/bit_writer.h"
#include "libs/deflate/internal/crc32.h"
#include "libs/deflate/internal/huffman.h"

namespace pushgate {
namespace deflate_internal {
namespace {

// ---------------------------------------------------------------------------------------
// The DEFLATE format (RFC 1951).

constexpr int kWindow = 32768;
// DEFLATE allows 3. On line protocol, 6 is as small as pays: shorter matches (a "=GET" or
// a digit pair) cost about as many bits as literals, and finding them costs time; measured,
// 6 gave both a better ratio and more speed than 4 or 5 on the upload bodies.
constexpr int kMinMatch = 6;
constexpr int kMaxMatch = 258;
constexpr int kNumLitLen = 286;  // literals 0..255, end of block 256, lengths 257..285
constexpr int kNumDist = 30;
constexpr int kNumCodeLen = 19;
constexpr int kEndOfBlock = 256;
constexpr int kMaxStoredLen = 65535;

constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,   7,   8,   9,   10,  11, 13,
                                      15, 17, 19, 23,  27,  31,  35,  43,  51, 59,
                                      67, 83, 99, 115, 131, 163, 195, 227, 258};
constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
constexpr uint16_t kDistBase[kNumDist] = {
    1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
constexpr uint8_t kDistExtra[kNumDist] = {0, 0, 0, 0, 1, 1, 2, 2,  3,  3,  4,  4,  5,  5,  6,
                                          6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
// The order in which the code-length code's lengths are sent.
constexpr uint8_t kCodeLenOrder[kNumCodeLen] = {16, 17, 18, 0, 8,  7, 9,  6, 10, 5,
                                                11, 4,  12, 3, 13, 2, 14, 1, 15};
constexpr uint8_t kCodeLenExtra[kNumCodeLen] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0, 0, 0, 0, 0, 2, 3, 7};

// kLengthSlot[len]: the index (code - 257) of the length code for a match of `len` bytes.
constexpr std::array<uint8_t, kMaxMatch + 1> MakeLengthSlots() {
  std::array<uint8_t, kMaxMatch + 1> slots{};
  for (int slot = 0; slot < 29; ++slot) {
    const int last = slot == 28 ? kMaxMatch : kLengthBase[slot + 1] - 1;
    for (int len = kLengthBase[slot]; len <= last; ++len) slots[len] = static_cast<uint8_t>(slot);
  }
  slots[kMaxMatch] = 28;  // 258 has a code of its own; 284 + 31 would also reach it
  return slots;
}
constexpr std::array<uint8_t, kMaxMatch + 1> kLengthSlot = MakeLengthSlots();

// The distance code for `dist` (1..32768): two codes per power of two above 4.
inline int DistCode(uint32_t dist) {
  const uint32_t x = dist - 1;
  if (x < 4) return static_cast<int>(x);
  const int log2 = 31 - __builtin_clz(x);
  return 2 * log2 + static_cast<int>((x >> (log2 - 1)) & 1);
}

// A code table ready for writing: for each symbol its bit-reversed code in the low bits and
// its length in bits 24..31.
struct CodeTable {
  uint32_t lit[kNumLitLen + 2];  // the fixed code defines 286 and 287 (never used)
  uint32_t dist[kNumDist + 2];
  // Each match length's code followed by its extra bits, in the same packing.
  uint32_t length[kMaxMatch + 1];
};

inline uint32_t Pack(uint32_t bits, int nbits) { return bits | (uint32_t(nbits) << 24); }
inline uint32_t Bits(uint32_t packed) { return packed & 0xffffff; }
inline int NumBits(uint32_t packed) { return static_cast<int>(packed >> 24); }

void FillCodeTable(const uint8_t* lit_lengths, const uint16_t* lit_codes, int num_lit,
                   const uint8_t* dist_lengths, const uint16_t* dist_codes, int num_dist,
                   CodeTable* table) {
  for (int s = 0; s < num_lit; ++s) table->lit[s] = Pack(lit_codes[s], lit_lengths[s]);
  for (int s = 0; s < num_dist; ++s) table->dist[s] = Pack(dist_codes[s], dist_lengths[s]);
  for (int slot = 0; slot < 29; ++slot) {
    const uint32_t code = table->lit[257 + slot];
    if (NumBits(code) == 0) continue;  // no match of these lengths in the block
    const int last = slot == 28 ? kMaxMatch : kLengthBase[slot + 1] - 1;
    for (int len = kLengthBase[slot]; len <= last; ++len) {
      table->length[len] = Pack(Bits(code) | (uint32_t(len - kLengthBase[slot]) << NumBits(code)),
                                NumBits(code) + kLengthExtra[slot]);
    }
  }
}

struct FixedCode {
  uint8_t lit_lengths[kNumLitLen + 2];
  uint8_t dist_lengths[kNumDist];
  CodeTable table;

  FixedCode() {
    for (int s = 0; s < kNumLitLen + 2; ++s) {
      lit_lengths[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    }
    std::fill(std::begin(dist_lengths), std::end(dist_lengths), 5);
    uint16_t lit_codes[kNumLitLen + 2];
    uint16_t dist_codes[kNumDist];
    BuildCanonicalCodes(lit_lengths, kNumLitLen + 2, lit_codes);
    BuildCanonicalCodes(dist_lengths, kNumDist, dist_codes);
    FillCodeTable(lit_lengths, lit_codes, kNumLitLen + 2, dist_lengths, dist_codes, kNumDist,
                  &table);
  }
};

const FixedCode& Fixed() {
  static const FixedCode* const fixed = new FixedCode();
  return *fixed;
}

// ---------------------------------------------------------------------------------------
// The encoder's block format.

// `lit_len` literals, then (if match_len != 0) a match of match_len bytes whose distance
// has the code dist_code and the extra bits dist_extra.
struct Sequence {
  uint32_t lit_len;
  uint16_t match_len;
  uint16_t dist_extra;  // the distance's extra bits
  uint32_t dist_code;
};

// Hash table of kMinMatch-byte prefixes, 2^kHashBits entries of 4 bytes (64 KiB, in L2).
// Measured, 2^13 and 2^15 made no difference in speed; 2^14 keeps a little more ratio.
constexpr int kHashBits = 14;
// Input per block: large enough that the dynamic code's header (~60-100 bytes) is noise,
// small enough that one code fits the block's statistics; two stored blocks' worth, so
// incompressible input pays for no third one.
constexpr size_t kBlockInput = 2 * kMaxStoredLen;
// One match extends over at most this many bytes (then the next search picks it up), which
// bounds how far a block can run past kBlockInput.
constexpr size_t kMaxMatchRun = 32 * kMaxMatch;
constexpr size_t kMaxSequences = size_t{1} << 14;
// A match found at the limit becomes up to this many sequences.
constexpr size_t kSequencesPerMatch = kMaxMatchRun / kMaxMatch + 2;
// Matches start at least this far from the end, so 8-byte loads never leave the input.
constexpr size_t kTailMargin = 16;
// After 2^kSkipShift probes without a match the stride grows by one.
constexpr int kSkipShift = 5;
// Hash table values are positions plus a bias; blocks never run past this span.
constexpr uint64_t kMaxBlockSpan = kBlockInput + kMaxMatchRun + kTailMargin;

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
// The first kMinMatch bytes at p, as the low bytes of a 64-bit value.
inline uint64_t Prefix(const uint8_t* p) { return Load64(p) << (64 - 8 * kMinMatch); }
inline uint32_t Hash(uint64_t prefix) {
  return static_cast<uint32_t>((prefix * 0x9E3779B185EBCA87u) >> (64 - kHashBits));
}

// Adds the bytes p[0, n) to freq, for long runs (incompressible data): four tables, so
// repeated bytes do not wait on each other's increments.
void CountManyBytes(const uint8_t* p, size_t n, uint32_t* freq) {
  const uint8_t* const end = p + n;
  uint32_t counts[4][256] = {};
  for (; p + 4 <= end; p += 4) {
    ++counts[0][p[0]];
    ++counts[1][p[1]];
    ++counts[2][p[2]];
    ++counts[3][p[3]];
  }
  for (; p < end; ++p) ++counts[0][*p];
  for (int c = 0; c < 256; ++c)
    freq[c] += counts[0][c] + counts[1][c] + counts[2][c] + counts[3][c];
}

// Adds the bytes p[0, n) to freq.
inline void CountBytes(const uint8_t* p, size_t n, uint32_t* freq) {
  if (ABSL_PREDICT_FALSE(n >= 64)) {
    CountManyBytes(p, n, freq);
    return;
  }
  for (const uint8_t* const end = p + n; p < end; ++p) ++freq[*p];
}

}  // namespace

struct EncoderState {
  std::unique_ptr<uint32_t[]> table{new uint32_t[size_t{1} << kHashBits]()};
  std::unique_ptr<Sequence[]> seqs{new Sequence[kMaxSequences]};
  size_t num_seqs = 0;
  // Table values are position + bias. Values below (current value - kWindow) are stale,
  // which is what keeps earlier calls' entries from matching without clearing the table.
  int64_t bias = kWindow + 1;
  // The table value the next call must start above.
  uint64_t next_value = 0;

  uint32_t lit_freq[kNumLitLen];
  uint32_t dist_freq[kNumDist];

  void ResetTable() {
    std::memset(table.get(), 0, sizeof(uint32_t) << kHashBits);
    next_value = 0;
  }

  void AddSequence(uint32_t lit_len, uint32_t match_len, int dist_code, uint32_t dist_extra) {
    Sequence& s = seqs[num_seqs++];
    s.lit_len = lit_len;
    s.match_len = static_cast<uint16_t>(match_len);
    s.dist_extra = static_cast<uint16_t>(dist_extra);
    s.dist_code = static_cast<uint32_t>(dist_code);
  }

  size_t ParseBlock(const uint8_t* src, size_t n, size_t start);
  void WriteBlock(const uint8_t* src, size_t start, size_t end, bool last, std::string* out,
                  BitWriter* w);
};

// Finds the sequences of one block starting at `start`; returns where the block ends. Fills
// seqs (the last one may have no match), lit_freq and dist_freq.
size_t EncoderState::ParseBlock(const uint8_t* src, size_t n, size_t start) {
  num_seqs = 0;
  std::memset(lit_freq, 0, sizeof(lit_freq));
  std::memset(dist_freq, 0, sizeof(dist_freq));
  uint32_t* const tab = table.get();
  const size_t block_limit = std::min(n, start + kBlockInput);
  const size_t tail = n >= kTailMargin ? n - kTailMargin : 0;
  const size_t parse_limit = std::min(block_limit, tail);
  const size_t max_seqs = kMaxSequences - kSequencesPerMatch;
  const int64_t b = bias;

  size_t i = start;
  size_t anchor = start;
  uint32_t probes = 0;
  while (i < parse_limit && num_seqs < max_seqs) {
    const uint64_t prefix = Prefix(src + i);
    const uint32_t h = Hash(prefix);
    const uint32_t value = static_cast<uint32_t>(static_cast<int64_t>(i) + b);
    const uint32_t cand_value = tab[h];
    tab[h] = value;
    uint32_t dist = value - cand_value;
    if (dist - 1 >= kWindow || Prefix(src + i - dist) != prefix) {
      i += 1 + (probes++ >> kSkipShift);
      continue;
    }
    probes = 0;
    // Extend forwards 8 bytes at a time, then backwards over the pending literals.
    const uint8_t* const cand = src + i - dist;
    const size_t limit = std::min(n, i + kMaxMatchRun);
    size_t len = kMinMatch;
    while (i + len + 8 <= limit) {
      const uint64_t diff = Load64(src + i + len) ^ Load64(cand + len);
      if (diff != 0) {
        len += static_cast<size_t>(__builtin_ctzll(diff)) >> 3;
        goto extended;
      }
      len += 8;
    }
    while (i + len < limit && src[i + len] == cand[len]) ++len;
  extended:
    size_t back = 0;
    while (i - back > anchor && i - back > dist && src[i - back - 1] == src[i - dist - back - 1] &&
           len + back < kMaxMatchRun) {
      ++back;
    }
    i -= back;
    len += back;

    // Matches longer than 258 go out as several, each at least 3 bytes.
    uint32_t lit_len = static_cast<uint32_t>(i - anchor);
    CountBytes(src + anchor, lit_len, lit_freq);
    const int dist_code = DistCode(dist);
    const uint32_t dist_extra = dist - kDistBase[dist_code];
    size_t left = len;
    while (left > kMaxMatch) {
      const size_t piece = left - kMaxMatch >= 3 ? kMaxMatch : left - 3;
      AddSequence(lit_len, static_cast<uint32_t>(piece), dist_code, dist_extra);
      ++lit_freq[257 + kLengthSlot[piece]];
      ++dist_freq[dist_code];
      lit_len = 0;
      left -= piece;
    }
    AddSequence(lit_len, static_cast<uint32_t>(left), dist_code, dist_extra);
    ++lit_freq[257 + kLengthSlot[left]];
    ++dist_freq[dist_code];

    i += len;
    anchor = i;
  }
  // A stride past block_limit is taken back (a match past it is not), so incompressible
  // blocks are exactly kBlockInput; the tail shorter than kTailMargin joins the last block
  // as literals.
  size_t end = std::min(i, std::max(anchor, block_limit));
  if (end >= tail && block_limit == n) end = n;
  if (end > anchor) {
    AddSequence(static_cast<uint32_t>(end - anchor), 0, 0, 0);
    CountBytes(src + anchor, end - anchor, lit_freq);
  }
  lit_freq[kEndOfBlock] = 1;
  return end;
}

namespace {

// A dynamic block's codes and the header that sends them.
struct DynamicHeader {
  int hlit;
  int hdist;
  int hclen;
  uint8_t lit_lengths[kNumLitLen];
  uint16_t lit_codes[kNumLitLen];
  uint8_t dist_lengths[kNumDist];
  uint16_t dist_codes[kNumDist];
  uint8_t cl_lengths[kNumCodeLen];
  uint16_t cl_codes[kNumCodeLen];
  uint16_t items[kNumLitLen + kNumDist];  // code-length symbols: symbol | extra bits << 8
  int num_items;
  uint64_t bits;         // the header's size
  uint64_t symbol_bits;  // the block's symbols with this code, extra bits not included
};

// Run-length codes the concatenated code lengths (RFC 1951 section 3.2.7).
void BuildHeader(const uint32_t* lit_freq, const uint32_t* dist_freq, DynamicHeader* h) {
  h->symbol_bits = BuildHuffmanCode(lit_freq, kNumLitLen, 15, h->lit_lengths, h->lit_codes) +
                   BuildHuffmanCode(dist_freq, kNumDist, 15, h->dist_lengths, h->dist_codes);
  h->hlit = kNumLitLen;
  while (h->hlit > 257 && h->lit_lengths[h->hlit - 1] == 0) --h->hlit;
  h->hdist = kNumDist;
  while (h->hdist > 1 && h->dist_lengths[h->hdist - 1] == 0) --h->hdist;

  // Padded with 0xff (no length) so runs are found 8 bytes at a time without a bound check.
  uint8_t all[kNumLitLen + kNumDist + 8];
  std::memcpy(all, h->lit_lengths, h->hlit);
  std::memcpy(all + h->hlit, h->dist_lengths, h->hdist);
  const int total = h->hlit + h->hdist;
  std::memset(all + total, 0xff, 8);
  uint32_t cl_freq[kNumCodeLen] = {};
  int n = 0;
  const auto emit = [&](int sym, int extra) {
    h->items[n++] = static_cast<uint16_t>(sym | (extra << 8));
    ++cl_freq[sym];
  };
  for (int i = 0; i < total;) {
    const uint8_t v = all[i];
    int run = 1;
    for (;;) {
      const uint64_t diff = Load64(all + i + run) ^ (v * 0x0101010101010101u);
      if (diff != 0) {
        run += __builtin_ctzll(diff) >> 3;
        break;
      }
      run += 8;
    }
    i += run;
    if (v == 0) {
      for (; run >= 11; run -= std::min(run, 138)) emit(18, std::min(run, 138) - 11);
      if (run >= 3) {
        emit(17, run - 3);
        run = 0;
      }
    } else {
      emit(v, 0);
      --run;
      for (; run >= 3; run -= std::min(run, 6)) emit(16, std::min(run, 6) - 3);
    }
    for (; run > 0; --run) emit(v, 0);
  }
  h->num_items = n;

  BuildHuffmanCode(cl_freq, kNumCodeLen, 7, h->cl_lengths, h->cl_codes);
  h->hclen = kNumCodeLen;
  while (h->hclen > 4 && h->cl_lengths[kCodeLenOrder[h->hclen - 1]] == 0) --h->hclen;
  uint64_t bits = 5 + 5 + 4 + 3 * h->hclen;
  for (int s = 0; s < kNumCodeLen; ++s) {
    bits += uint64_t(cl_freq[s]) * (h->cl_lengths[s] + kCodeLenExtra[s]);
  }
  h->bits = bits;
}

void WriteHeader(const DynamicHeader& h, BitWriter* w) {
  w->Add(h.hlit - 257, 5);
  w->Add(h.hdist - 1, 5);
  w->Add(h.hclen - 4, 4);
  w->Flush();
  for (int i = 0; i < h.hclen; ++i) {
    w->Add(h.cl_lengths[kCodeLenOrder[i]], 3);
    w->Flush();
  }
  for (int i = 0; i < h.num_items; ++i) {
    const int sym = h.items[i] & 0xff;
    w->Add(h.cl_codes[sym], h.cl_lengths[sym]);
    w->Add(h.items[i] >> 8, kCodeLenExtra[sym]);
    w->Flush();
  }
}

// The bits a block's symbols take with the fixed code (extra bits not included): literals
// 0-143 take 8 bits, 144-255 9, end of block and lengths 257-279 7, 280-287 8; distances 5.
uint64_t FixedCodeBits(const uint32_t* lit_freq, const uint32_t* dist_freq) {
  // 32-bit sums (a block has fewer than 2^18 symbols) vectorize.
  uint32_t all = 0, nine = 0, seven = 0, dists = 0;
  for (int s = 0; s < kNumLitLen; ++s) all += lit_freq[s];
  for (int s = 144; s < 256; ++s) nine += lit_freq[s];
  for (int s = 256; s < 280; ++s) seven += lit_freq[s];
  for (int d = 0; d < kNumDist; ++d) dists += dist_freq[d];
  return 8 * uint64_t{all} + nine - seven + 5 * uint64_t{dists};
}

void WriteSymbols(const uint8_t* src, const Sequence* seqs, size_t num_seqs, const CodeTable& code,
                  BitWriter* w) {
  const uint8_t* p = src;
  for (size_t s = 0; s < num_seqs; ++s) {
    const Sequence seq = seqs[s];
    const uint8_t* const lit_end = p + seq.lit_len;
    // Three literals of at most 15 bits fit beside the <8 pending bits.
    for (; p + 3 <= lit_end; p += 3) {
      const uint32_t a = code.lit[p[0]], b = code.lit[p[1]], c = code.lit[p[2]];
      w->Add(Bits(a), NumBits(a));
      w->Add(Bits(b), NumBits(b));
      w->Add(Bits(c), NumBits(c));
      w->Flush();
    }
    if (p < lit_end) {
      for (; p < lit_end; ++p) w->Add(Bits(code.lit[*p]), NumBits(code.lit[*p]));
      w->Flush();
    }
    if (seq.match_len != 0) {
      const uint32_t len = code.length[seq.match_len];
      const uint32_t dcode = code.dist[seq.dist_code];
      w->Add(Bits(len), NumBits(len));
      w->Add(Bits(dcode), NumBits(dcode));
      w->Add(seq.dist_extra, kDistExtra[seq.dist_code]);
      w->Flush();
      p += seq.match_len;
    }
  }
  const uint32_t eob = code.lit[kEndOfBlock];
  w->Add(Bits(eob), NumBits(eob));
  w->Flush();
}

// Makes room in *out for `bits` more bits after the writer's position.
void Reserve(std::string* out, BitWriter* w, uint64_t bits) {
  const size_t pos = static_cast<size_t>(w->position() - &(*out)[0]);
  const size_t need = pos + 1 + static_cast<size_t>(bits / 8) + 1 + BitWriter::kSlack;
  if (out->size() < need) {
    out->resize(need);
    w->Rebase(&(*out)[0] + pos);
  }
}

}  // namespace

// Writes src[start, end) (described by seqs) as one block, or several stored ones.
void EncoderState::WriteBlock(const uint8_t* src, size_t start, size_t end, bool last,
                              std::string* out, BitWriter* w) {
  uint64_t extra_bits = 0;
  for (int slot = 0; slot < 29; ++slot) {
    extra_bits += uint64_t(lit_freq[257 + slot]) * kLengthExtra[slot];
  }
  for (int d = 0; d < kNumDist; ++d) extra_bits += uint64_t(dist_freq[d]) * kDistExtra[d];

  DynamicHeader header;
  BuildHeader(lit_freq, dist_freq, &header);
  const uint64_t dynamic_bits = 3 + header.bits + header.symbol_bits + extra_bits;
  const FixedCode& fixed = Fixed();
  const uint64_t fixed_bits = 3 + FixedCodeBits(lit_freq, dist_freq) + extra_bits;
  const size_t len = end - start;
  const size_t stored_chunks = std::max<size_t>(1, (len + kMaxStoredLen - 1) / kMaxStoredLen);
  // Each stored block: 3 header bits, up to 7 to align, LEN and NLEN.
  const uint64_t stored_bits = (uint64_t(len) + 5 * stored_chunks) * 8 + 7;

  if (stored_bits < dynamic_bits && stored_bits < fixed_bits) {
    Reserve(out, w, stored_bits);
    const uint8_t* p = src + start;
    size_t left = len;
    do {
      const size_t chunk = std::min<size_t>(left, kMaxStoredLen);
      left -= chunk;
      w->Add(last && left == 0 ? 1 : 0, 3);  // BTYPE 00
      w->AlignToByte();
      const uint8_t lens[4] = {uint8_t(chunk), uint8_t(chunk >> 8), uint8_t(~chunk),
                               uint8_t(~chunk >> 8)};
      w->CopyBytes(lens, 4);
      w->CopyBytes(p, chunk);
      p += chunk;
    } while (left > 0);
    return;
  }
  if (fixed_bits <= dynamic_bits) {
    Reserve(out, w, fixed_bits);
    w->Add(last ? 1 : 0, 1);
    w->Add(1, 2);
    WriteSymbols(src + start, seqs.get(), num_seqs, fixed.table, w);
    return;
  }
  Reserve(out, w, dynamic_bits);
  CodeTable table;
  FillCodeTable(header.lit_lengths, header.lit_codes, kNumLitLen, header.dist_lengths,
                header.dist_codes, kNumDist, &table);
  w->Add(last ? 1 : 0, 1);
  w->Add(2, 2);
  WriteHeader(header, w);
  WriteSymbols(src + start, seqs.get(), num_seqs, table, w);
}

}  // namespace deflate_internal

FastGzipEncoder::FastGzipEncoder() : state_(new deflate_internal::EncoderState()) {}
FastGzipEncoder::~FastGzipEncoder() = default;

void FastGzipEncoder::Compress(absl::string_view in, std::string* out) {
  using deflate_internal::BitWriter;
  using deflate_internal::kMaxBlockSpan;
  using deflate_internal::kWindow;
  deflate_internal::EncoderState& st = *state_;
  const uint8_t* const src = reinterpret_cast<const uint8_t*>(in.data());
  const size_t n = in.size();

  // Table values for this call start a window above the last call's, so its entries are
  // stale; clearing the table is needed only when the values would run out of 32 bits.
  constexpr uint64_t kValueLimit = uint64_t{1} << 32;
  if (st.next_value + kWindow + 1 + n + kMaxBlockSpan >= kValueLimit) st.ResetTable();
  st.bias = static_cast<int64_t>(st.next_value) + kWindow + 1;

  static constexpr uint8_t kGzipHeader[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  const size_t member_start = out->size();
  out->resize(member_start + sizeof(kGzipHeader) + BitWriter::kSlack + 64);
  std::memcpy(&(*out)[member_start], kGzipHeader, sizeof(kGzipHeader));
  BitWriter w(&(*out)[member_start + sizeof(kGzipHeader)]);

  size_t pos = 0;
  do {
    if (static_cast<uint64_t>(static_cast<int64_t>(pos) + st.bias) + kMaxBlockSpan >= kValueLimit) {
      // Only inputs of about 4 GiB get here: forget the window instead of wrapping values.
      st.ResetTable();
      st.bias = kWindow + 1 - static_cast<int64_t>(pos);
    }
    const size_t end = st.ParseBlock(src, n, pos);
    st.WriteBlock(src, pos, end, end == n, out, &w);
    pos = end;
  } while (pos < n);
  st.next_value = static_cast<uint64_t>(static_cast<int64_t>(n) + st.bias);

  w.AlignToByte();
  const size_t size = static_cast<size_t>(w.position() - out->data());
  out->resize(size + 8);
  const uint32_t crc_value = deflate_internal::Crc32(0, src, n);
  const uint32_t isize = static_cast<uint32_t>(n);
  char* trailer = &(*out)[size];
  for (int k = 0; k < 4; ++k) {
    trailer[k] = static_cast<char>(crc_value >> (8 * k));
    trailer[4 + k] = static_cast<char>(isize >> (8 * k));
  }
}

void FastGzipCompress(absl::string_view in, std::string* out) {
  thread_local FastGzipEncoder encoder;
  encoder.Compress(in, out);
}

}  // namespace pushgate
