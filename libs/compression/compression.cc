#include "libs/compression/compression.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/crc32c/crc32c.h"

namespace pushgate {
namespace {

absl::Status TooLarge(size_t max_bytes) {
  return absl::ResourceExhaustedError(
      absl::StrCat("decompressed body exceeds ", max_bytes, " bytes"));
}

// The destination of a decompression: refuses any append that would take the string past
// the limit and grows its capacity without ever reserving beyond the limit.
class BoundedOutput {
 public:
  BoundedOutput(std::string* out, size_t max_bytes) : out_(out), max_(max_bytes) { out_->clear(); }

  bool Fits(size_t n) const { return n <= max_ - out_->size(); }

  // Appends unless the result would exceed the limit; returns whether it did.
  bool Append(const char* data, size_t n) {
    if (!Fits(n)) return false;
    Grow(out_->size() + n);
    out_->append(data, n);
    return true;
  }

  // Reserves room for an expected total size (a hint from the stream header, which may be
  // a lie: it is only ever honoured up to the limit).
  void ReserveHint(uint64_t total) { Grow(std::min<uint64_t>(total, max_)); }

 private:
  void Grow(size_t needed) {
    const size_t cap = out_->capacity();
    if (needed <= cap) return;
    // cap < needed <= max_, so cap * 2 cannot overflow.
    const size_t want = std::min(std::max(needed, cap * 2), max_);
    if (want >= cap * 2) {
      out_->reserve(want);
      return;
    }
    // libstdc++ rounds any growth up to twice the old capacity, which could reserve up to
    // twice the limit. reserve() on a fresh string does the same below twice its built-in
    // buffer (a limit of 17 bytes got 30), while a string constructed at a size allocates
    // exactly that size; the copy then fits without another allocation.
    std::string fresh(want, '\0');
    fresh.assign(*out_);
    out_->swap(fresh);
  }

  std::string* out_;
  const size_t max_;
};

// Feeds a possibly >4 GiB input to zlib, whose counters are 32-bit.
class ZlibInput {
 public:
  ZlibInput(z_stream* zs, absl::string_view in) : zs_(zs), rest_(in) {}

  // Tops up the stream's input when it has consumed what it was given.
  void Refill() {
    if (zs_->avail_in != 0 || rest_.empty()) return;
    const size_t n = std::min<size_t>(rest_.size(), UINT_MAX);
    zs_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(rest_.data()));
    zs_->avail_in = static_cast<uInt>(n);
    rest_.remove_prefix(n);
  }

  bool Exhausted() const { return zs_->avail_in == 0 && rest_.empty(); }
  bool LastPiece() const { return rest_.empty(); }
  size_t Remaining() const { return zs_->avail_in + rest_.size(); }

 private:
  z_stream* zs_;
  absl::string_view rest_;
};

absl::Status InflateGzip(absl::string_view in, size_t max_bytes, BoundedOutput& out) {
  z_stream zs{};
  // 16 + MAX_WBITS: gzip wrapper only (a zlib or raw deflate stream is not "gzip").
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    return absl::InternalError("gzip: cannot initialise zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&zs, inflateEnd);

  // ISIZE, the last member's length mod 2^32, is a decent guess for the usual one-member
  // body and harmless when wrong.
  if (in.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    out.ReserveHint(uint32_t{t[0]} | (uint32_t{t[1]} << 8) | (uint32_t{t[2]} << 16) |
                    (uint32_t{t[3]} << 24));
  }

  std::unique_ptr<char[]> chunk(new char[kDecompressChunkBytes]);
  ZlibInput input(&zs, in);
  int members = 0;
  for (;;) {
    input.Refill();
    zs.next_out = reinterpret_cast<Bytef*>(chunk.get());
    zs.avail_out = kDecompressChunkBytes;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    const size_t produced = kDecompressChunkBytes - zs.avail_out;
    if (!out.Append(chunk.get(), produced)) return TooLarge(max_bytes);
    switch (rc) {
      case Z_STREAM_END:
        ++members;
        input.Refill();
        if (input.Exhausted()) return absl::OkStatus();
        // Anything but another member's magic bytes (1f 8b) is trailing data, which zlib
        // would report as a corrupt or truncated member.
        if (zs.next_in[0] != 0x1f || (zs.avail_in > 1 && zs.next_in[1] != 0x8b)) {
          return absl::InvalidArgumentError(
              absl::StrCat("gzip: trailing data after the gzip stream (", input.Remaining(),
                           " bytes that are not a gzip member)"));
        }
        // Concatenated members form one body (RFC 1952 §2.2).
        if (inflateReset(&zs) != Z_OK) return absl::InternalError("gzip: inflateReset failed");
        break;
      case Z_OK:
      case Z_BUF_ERROR:
        // zlib stops short of filling the output only when it has run out of input.
        if (zs.avail_out != 0) {
          input.Refill();
          if (input.Exhausted()) {
            return absl::InvalidArgumentError(
                members == 0 ? "gzip: truncated data (unexpected end of stream)"
                             : "gzip: truncated data in a member after the first");
          }
        }
        break;
      case Z_NEED_DICT:
        return absl::InvalidArgumentError("gzip: corrupt data (stream needs a dictionary)");
      case Z_MEM_ERROR:
        return absl::ResourceExhaustedError("gzip: out of memory");
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("gzip: corrupt data", members > 0 ? " after the first member" : "", " (",
                         zs.msg != nullptr ? zs.msg : "invalid stream", ")"));
    }
  }
}

// The framing format's chunk types (github.com/google/snappy framing_format.txt).
constexpr unsigned char kChunkCompressed = 0x00;
constexpr unsigned char kChunkUncompressed = 0x01;
constexpr unsigned char kChunkStreamIdentifier = 0xff;
constexpr unsigned char kLastUnskippable = 0x7f;
constexpr absl::string_view kSnappyMagic = "sNaPpY";
// Each data chunk holds at most this much uncompressed data.
constexpr size_t kMaxSnappyChunkData = 65536;

inline uint32_t LoadLE32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

absl::Status SnappyError(absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(
      absl::StrCat("snappy: ", what, " (chunk at byte ", offset, ")"));
}

absl::Status DecodeSnappyFramed(absl::string_view in, size_t max_bytes, BoundedOutput& out) {
  static_assert(kMaxSnappyChunkData <= kDecompressChunkBytes, "chunk buffer too small");
  // Checked before any chunk is read: a body in another format (a raw snappy block, plain
  // text) would be read as a chunk header and reported as truncated.
  if (!in.empty() && static_cast<unsigned char>(in[0]) != kChunkStreamIdentifier) {
    return SnappyError(
        "stream does not start with the stream identifier: the body is not in snappy's framing "
        "format (raw snappy blocks are not accepted)",
        0);
  }
  std::unique_ptr<char[]> scratch;
  size_t offset = 0;
  while (offset < in.size()) {
    if (in.size() - offset < 4) return SnappyError("truncated chunk header", offset);
    const auto* header = reinterpret_cast<const unsigned char*>(in.data() + offset);
    const unsigned char type = header[0];
    const size_t length = size_t{header[1]} | (size_t{header[2]} << 8) | (size_t{header[3]} << 16);
    if (in.size() - offset - 4 < length) {
      return SnappyError(absl::StrCat("truncated chunk: header says ", length, " bytes, ",
                                      in.size() - offset - 4, " remain"),
                         offset);
    }
    absl::string_view data = in.substr(offset + 4, length);

    if (type == kChunkStreamIdentifier) {
      // May repeat: concatenated streams are one stream.
      if (data != kSnappyMagic) return SnappyError("bad stream identifier", offset);
    } else if (type == kChunkCompressed || type == kChunkUncompressed) {
      if (data.size() < 4) return SnappyError("data chunk too short for its checksum", offset);
      const uint32_t expected_crc = LoadLE32(data.data());
      data.remove_prefix(4);
      absl::string_view plain;
      if (type == kChunkCompressed) {
        size_t n = 0;
        if (!snappy::GetUncompressedLength(data.data(), data.size(), &n)) {
          return SnappyError("corrupt compressed chunk", offset);
        }
        if (n > kMaxSnappyChunkData) {
          return SnappyError(absl::StrCat("chunk claims ", n,
                                          " uncompressed bytes, over the "
                                          "format's limit of ",
                                          kMaxSnappyChunkData),
                             offset);
        }
        // Checked before decoding so a rejected body never costs the decode.
        if (!out.Fits(n)) return TooLarge(max_bytes);
        if (scratch == nullptr) scratch.reset(new char[kMaxSnappyChunkData]);
        if (!snappy::RawUncompress(data.data(), data.size(), scratch.get())) {
          return SnappyError("corrupt compressed chunk", offset);
        }
        plain = absl::string_view(scratch.get(), n);
      } else {
        if (data.size() > kMaxSnappyChunkData) {
          return SnappyError(
              absl::StrCat("uncompressed chunk of ", data.size(),
                           " bytes, over the format's limit of ", kMaxSnappyChunkData),
              offset);
        }
        plain = data;
      }
      if (MaskCrc32c(Crc32c(plain)) != expected_crc) {
        return SnappyError("checksum mismatch", offset);
      }
      if (!out.Append(plain.data(), plain.size())) return TooLarge(max_bytes);
    } else if (type <= kLastUnskippable) {
      return SnappyError(absl::StrFormat("reserved unskippable chunk type 0x%02x", type), offset);
    }
    // Padding (0xfe) and reserved skippable chunks (0x80-0xfd) carry nothing for us.
    offset += 4 + length;
  }
  return absl::OkStatus();
}

// The largest window a frame may ask for: enough for the whole allowed output, and never
// below 8 MiB (2^23), the most any standard level up to 19 uses when the encoder streams
// without knowing the size, so ordinary bodies are never refused for their window.
int ZstdWindowLogFor(size_t max_bytes) {
  // ZSTD_WINDOWLOG_LIMIT_DEFAULT, which zstd.h only exposes with ZSTD_STATIC_LINKING_ONLY.
  constexpr int kDefaultMaxWindowLog = 27;
  int log = 23;
  while (log < kDefaultMaxWindowLog && (size_t{1} << log) < max_bytes) ++log;
  return log;
}

absl::Status DecompressZstd(absl::string_view in, size_t max_bytes, BoundedOutput& out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (dctx == nullptr) return absl::ResourceExhaustedError("zstd: cannot allocate decoder");
  // A frame header may ask for a window of up to 128 MiB (more with --long), allocated before
  // a byte of output exists, while a window larger than the allowed output is never needed.
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, ZstdWindowLogFor(max_bytes));

  const unsigned long long content_size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (content_size != ZSTD_CONTENTSIZE_UNKNOWN && content_size != ZSTD_CONTENTSIZE_ERROR) {
    out.ReserveHint(content_size);
  }

  std::unique_ptr<char[]> chunk(new char[kDecompressChunkBytes]);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t last = 0;
  for (;;) {
    ZSTD_outBuffer output{chunk.get(), kDecompressChunkBytes, 0};
    last = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(last)) {
      if (ZSTD_getErrorCode(last) == ZSTD_error_frameParameter_windowTooLarge) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "zstd: frame needs a window larger than ", size_t{1} << ZstdWindowLogFor(max_bytes),
            " bytes, the most allowed for a decompressed body limit of ", max_bytes, " bytes"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat("zstd: corrupt data (", ZSTD_getErrorName(last), ")"));
    }
    if (!out.Append(chunk.get(), output.pos)) return TooLarge(max_bytes);
    // All input consumed, and either output room was left over (the decoder flushed all it
    // could) or a frame just ended fully flushed.
    if (input.pos == input.size && (output.pos < output.size || last == 0)) break;
  }
  if (last != 0) {
    return absl::InvalidArgumentError("zstd: truncated data (unexpected end of frame)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ContentEncoding> ParseContentEncoding(absl::string_view header) {
  const absl::string_view token = absl::StripAsciiWhitespace(header);
  if (token.empty() || absl::EqualsIgnoreCase(token, "identity")) {
    return ContentEncoding::kIdentity;
  }
  if (absl::EqualsIgnoreCase(token, "gzip") || absl::EqualsIgnoreCase(token, "x-gzip")) {
    return ContentEncoding::kGzip;
  }
  if (absl::EqualsIgnoreCase(token, "snappy")) return ContentEncoding::kSnappyFramed;
  if (absl::EqualsIgnoreCase(token, "zstd")) return ContentEncoding::kZstd;
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported Content-Encoding \"", absl::CHexEscape(token), "\""));
}

absl::string_view ContentEncodingName(ContentEncoding encoding) {
  switch (encoding) {
    case ContentEncoding::kIdentity:
      return "identity";
    case ContentEncoding::kGzip:
      return "gzip";
    case ContentEncoding::kSnappyFramed:
      return "snappy";
    case ContentEncoding::kZstd:
      return "zstd";
  }
  return "unknown";
}

absl::Status Decompress(ContentEncoding encoding, absl::string_view in, size_t max_bytes,
                        std::string* out) {
  BoundedOutput bounded(out, max_bytes);
  if (in.empty()) return absl::OkStatus();
  switch (encoding) {
    case ContentEncoding::kIdentity:
      if (!bounded.Append(in.data(), in.size())) return TooLarge(max_bytes);
      return absl::OkStatus();
    case ContentEncoding::kGzip:
      return InflateGzip(in, max_bytes, bounded);
    case ContentEncoding::kSnappyFramed:
      return DecodeSnappyFramed(in, max_bytes, bounded);
    case ContentEncoding::kZstd:
      return DecompressZstd(in, max_bytes, bounded);
  }
  return absl::InvalidArgumentError("unknown content encoding");
}

absl::Status GzipCompress(absl::string_view in, std::string* out, int level) {
  if (level < Z_DEFAULT_COMPRESSION || level > Z_BEST_COMPRESSION) {
    return absl::InvalidArgumentError(absl::StrCat("gzip level must be -1 or 0..9, got ", level));
  }
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("gzip: cannot initialise zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> cleanup(&zs, deflateEnd);

  const size_t start = out->size();
  size_t written = 0;
  out->resize(start + deflateBound(&zs, in.size()));
  ZlibInput input(&zs, in);
  for (;;) {
    input.Refill();
    // deflateBound should always suffice; growing keeps this correct even if it did not.
    if (start + written == out->size()) out->resize(out->size() + kDecompressChunkBytes);
    const size_t room = std::min<size_t>(out->size() - start - written, UINT_MAX);
    zs.next_out = reinterpret_cast<Bytef*>(&(*out)[start + written]);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = deflate(&zs, input.LastPiece() ? Z_FINISH : Z_NO_FLUSH);
    written += room - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      out->resize(start);
      return absl::InternalError(absl::StrCat("gzip: deflate failed (", rc, ")"));
    }
  }
  out->resize(start + written);
  return absl::OkStatus();
}

void SnappyBlockCompress(absl::string_view in, std::string* out) {
  const size_t start = out->size();
  out->resize(start + snappy::MaxCompressedLength(in.size()));
  size_t n = 0;
  snappy::RawCompress(in.data(), in.size(), &(*out)[start], &n);
  out->resize(start + n);
}

}  // namespace pushgate
