// Decompression without zlib: inflate (RFC 1951: stored, fixed- and dynamic-Huffman blocks), the
// gzip wrapper (RFC 1952: header fields, CRC-32 and length check, several members in a row), and
// CRC-32 itself. Corrupt or truncated input always throws jepa::Error naming the input and the
// problem; nothing reads outside the input or writes outside the output.
// Huffman codes decode through one table indexed by the next `max_length` input bits, which is
// rebuilt per block: at most 2^15 entries, cheap next to the tens of kilobytes a block produces.
// reference: https://www.rfc-editor.org/rfc/rfc1951, https://www.rfc-editor.org/rfc/rfc1952
#pragma once
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <jepa/core/error.hpp>
#include <jepa/io/file.hpp>

namespace jepa {

namespace detail {

// Tables for CRC-32 eight bytes at a time ("slicing by 8"): table[0] is the classic byte-wise
// table of the reflected polynomial; table[k][b] is the CRC of byte b followed by k zero bytes.
inline const std::array<std::array<uint32_t, 256>, 8>& crc32_tables() {
  static const auto tables = [] {
    std::array<std::array<uint32_t, 256>, 8> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[0][n] = c;
    }
    for (int k = 1; k < 8; ++k)
      for (uint32_t n = 0; n < 256; ++n) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xff];
    return t;
  }();
  return tables;
}

}  // namespace detail

// CRC-32 as in gzip, zlib and PNG; pass the previous result as `crc` to continue a running checksum.
inline uint32_t crc32(std::span<const uint8_t> data, uint32_t crc = 0) {
  const auto& t = detail::crc32_tables();
  uint32_t c = ~crc;
  size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    const uint32_t lo = c ^ load_le<uint32_t>(&data[i]), hi = load_le<uint32_t>(&data[i + 4]);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][hi & 0xff] ^
        t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
  }
  for (; i < data.size(); ++i) c = t[0][(c ^ data[i]) & 0xff] ^ (c >> 8);
  return ~c;
}

namespace detail {

// Reads a deflate stream's bits least significant first. Past the end of the input it supplies
// zero bits and counts them, so decoding never reads out of bounds and truncation is detected
// by comparing the bits consumed with the bits available.
class BitReader {
 public:
  explicit BitReader(std::span<const uint8_t> in) : in_(in) {}

  void refill() {
    if (loaded_ + 8 <= in_.size()) {  // fast path: take as many whole bytes as fit in one load
      buffer_ |= load_le<uint64_t>(&in_[loaded_]) << count_;
      loaded_ += static_cast<size_t>(63 - count_) >> 3;
      count_ |= 56;
      return;
    }
    while (count_ <= 56) {
      const uint64_t byte = loaded_ < in_.size() ? in_[loaded_] : 0;
      ++loaded_;
      buffer_ |= byte << count_;
      count_ += 8;
    }
  }
  uint32_t peek(int n) {
    if (count_ < n) refill();
    return static_cast<uint32_t>(buffer_ & ((uint64_t{1} << n) - 1));
  }
  void skip(int n) {
    buffer_ >>= n;
    count_ -= n;
  }
  uint32_t bits(int n) {
    const uint32_t v = peek(n);
    skip(n);
    return v;
  }
  uint64_t consumed_bits() const { return loaded_ * 8 - static_cast<uint64_t>(count_); }
  bool overran() const { return consumed_bits() > in_.size() * 8; }

  // Drops the bits up to the next byte boundary, then continues reading whole bytes from there.
  size_t align_to_byte() {
    const size_t byte = (consumed_bits() + 7) / 8;
    buffer_ = 0;
    count_ = 0;
    loaded_ = byte;
    return byte;
  }
  void skip_bytes(size_t n) { loaded_ += n; }

 private:
  std::span<const uint8_t> in_;
  uint64_t buffer_ = 0;
  int count_ = 0;
  size_t loaded_ = 0;  // bytes moved into buffer_ so far, counting zero padding past the end
};

// A canonical Huffman code (RFC 1951 3.2.2) from code lengths, decoded by table lookup.
class HuffmanTable {
 public:
  static constexpr int kMaxBits = 15;

  // Returns an empty string on success, else why the lengths do not form a valid code. An
  // incomplete code is allowed only with a single symbol of length 1 (a block that uses one
  // distance, as zlib writes), unless `allow_incomplete` is false.
  std::string build(std::span<const uint8_t> lengths, bool allow_incomplete) {
    std::array<int, kMaxBits + 1> count{};
    for (const uint8_t len : lengths) ++count[len];
    count[0] = 0;
    max_bits_ = 0;
    for (int len = 1; len <= kMaxBits; ++len)
      if (count[len]) max_bits_ = len;
    int left = 1;  // code space still unassigned, in units of the current length
    for (int len = 1; len <= kMaxBits; ++len) {
      left = 2 * left - count[len];
      if (left < 0) return "over-subscribed code lengths";
    }
    if (left > 0 && max_bits_ > 0 && !(allow_incomplete && max_bits_ == 1)) return "incomplete code lengths";

    entries_.assign(size_t{1} << max_bits_, Entry{});
    std::array<uint32_t, kMaxBits + 2> next_code{};
    for (int len = 1; len <= kMaxBits; ++len) next_code[len + 1] = (next_code[len] + count[len]) << 1;
    for (size_t symbol = 0; symbol < lengths.size(); ++symbol) {
      const int len = lengths[symbol];
      if (len == 0) continue;
      const uint32_t code = next_code[len]++;
      uint32_t reversed = 0;  // codes are packed most significant bit first into an LSB-first stream
      for (int i = 0; i < len; ++i) reversed |= ((code >> i) & 1u) << (len - 1 - i);
      for (uint32_t index = reversed; index < entries_.size(); index += 1u << len)
        entries_[index] = Entry{static_cast<uint16_t>(symbol), static_cast<uint8_t>(len)};
    }
    return {};
  }

  // The next symbol, or -1 when the bits form no code of this table.
  int decode(BitReader& in) const {
    const Entry e = entries_[in.peek(max_bits_)];
    if (e.length == 0) return -1;
    in.skip(e.length);
    return e.symbol;
  }

 private:
  struct Entry {
    uint16_t symbol = 0;
    uint8_t length = 0;  // 0: no code
  };
  std::vector<Entry> entries_;
  int max_bits_ = 0;
};

// Base values and extra-bit counts of length symbols 257..285 and distance symbols 0..29 (RFC 1951 3.2.5).
struct DeflateTables {
  std::array<uint16_t, 29> length_base{};
  std::array<uint8_t, 29> length_extra{};
  std::array<uint16_t, 30> distance_base{};
  std::array<uint8_t, 30> distance_extra{};
  DeflateTables() {
    uint16_t base = 3;
    for (int i = 0; i < 28; ++i) {
      length_extra[i] = static_cast<uint8_t>(i < 8 ? 0 : i / 4 - 1);
      length_base[i] = base;
      base = static_cast<uint16_t>(base + (1 << length_extra[i]));
    }
    length_base[28] = 258;  // symbol 285 is 258 with no extra bits, not the 259 the pattern gives
    length_extra[28] = 0;
    uint32_t dist = 1;
    for (int i = 0; i < 30; ++i) {
      distance_extra[i] = static_cast<uint8_t>(i < 4 ? 0 : i / 2 - 1);
      distance_base[i] = static_cast<uint16_t>(dist);
      dist += 1u << distance_extra[i];
    }
  }
};

class Inflater {
 public:
  Inflater(std::span<const uint8_t> in, std::string_view what, std::vector<uint8_t>& out)
      : raw_(in), in_(in), what_(what), out_(out) {}

  // Decodes blocks until the final one; returns the input bytes used (the stream ends byte-aligned).
  size_t run() {
    bool final_block = false;
    while (!final_block) {
      final_block = in_.bits(1);
      const uint32_t type = in_.bits(2);
      if (type == 0)
        stored_block();
      else if (type == 1)
        fixed_block();
      else if (type == 2)
        dynamic_block();
      else
        error("invalid block type 3");
      check_not_truncated();
    }
    return in_.align_to_byte();
  }

 private:
  template <class... Args>
  [[noreturn]] void error(const Args&... args) const {
    fail("inflate", what_, ": corrupt deflate data: ", args..., " (at compressed bit ", in_.consumed_bits(), ")");
  }
  void check_not_truncated() const {
    if (in_.overran()) fail("inflate", what_, ": truncated: the deflate stream ends in the middle of a block");
  }

  void stored_block() {
    const size_t start = in_.align_to_byte();
    const std::span<const uint8_t> rest = raw_.subspan(std::min(start, raw_.size()));
    if (rest.size() < 4) fail("inflate", what_, ": truncated: stored block header cut off");
    const uint16_t len = load_le<uint16_t>(rest.data()), nlen = load_le<uint16_t>(rest.data() + 2);
    if (static_cast<uint16_t>(~nlen) != len)
      error("stored block length ", len, " does not match its complement ", nlen);
    if (rest.size() - 4 < len) fail("inflate", what_, ": truncated: stored block of ", len, " bytes cut off");
    out_.insert(out_.end(), rest.begin() + 4, rest.begin() + 4 + len);
    in_.skip_bytes(4 + static_cast<size_t>(len));
  }

  void fixed_block() {
    static const std::pair<HuffmanTable, HuffmanTable> fixed = [] {
      std::array<uint8_t, 288> litlen{};
      for (int i = 0; i < 288; ++i) litlen[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
      std::array<uint8_t, 32> dist{};  // 30 and 31 complete the code but are invalid symbols
      dist.fill(5);
      std::pair<HuffmanTable, HuffmanTable> t;
      [[maybe_unused]] const bool complete =
          t.first.build(litlen, false).empty() && t.second.build(dist, false).empty();
      assert(complete);
      return t;
    }();
    codes(fixed.first, fixed.second);
  }

  void dynamic_block() {
    const int nlitlen = static_cast<int>(in_.bits(5)) + 257;
    const int ndist = static_cast<int>(in_.bits(5)) + 1;
    const int ncodelen = static_cast<int>(in_.bits(4)) + 4;
    if (nlitlen > 286 || ndist > 30) error("too many length (", nlitlen, ") or distance (", ndist, ") codes");
    static constexpr int kOrder[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    std::array<uint8_t, 19> codelen_lengths{};
    for (int i = 0; i < ncodelen; ++i) codelen_lengths[kOrder[i]] = static_cast<uint8_t>(in_.bits(3));
    check_not_truncated();
    HuffmanTable codelen;
    if (std::string why = codelen.build(codelen_lengths, false); !why.empty()) error(why, " in the code length code");

    std::array<uint8_t, 286 + 30> lengths{};
    for (int i = 0; i < nlitlen + ndist;) {
      const int symbol = codelen.decode(in_);
      if (symbol < 0) error("invalid code length code");
      if (symbol < 16) {
        lengths[i++] = static_cast<uint8_t>(symbol);
        continue;
      }
      uint8_t value = 0;
      int repeat;
      if (symbol == 16) {
        if (i == 0) error("repeat of the previous length with no previous length");
        value = lengths[i - 1];
        repeat = 3 + static_cast<int>(in_.bits(2));
      } else if (symbol == 17) {
        repeat = 3 + static_cast<int>(in_.bits(3));
      } else {
        repeat = 11 + static_cast<int>(in_.bits(7));
      }
      if (i + repeat > nlitlen + ndist) error("code length repeat runs past the end of the lengths");
      for (int k = 0; k < repeat; ++k) lengths[i++] = value;
    }
    check_not_truncated();
    if (lengths[256] == 0) error("the block has no end-of-block code");
    HuffmanTable litlen, dist;
    if (std::string why = litlen.build(std::span(lengths.data(), nlitlen), true); !why.empty())
      error(why, " in the literal/length code");
    if (std::string why = dist.build(std::span(lengths.data() + nlitlen, ndist), true); !why.empty())
      error(why, " in the distance code");
    codes(litlen, dist);
  }

  void codes(const HuffmanTable& litlen, const HuffmanTable& dist) {
    static const DeflateTables tables;
    while (true) {
      const int symbol = litlen.decode(in_);
      check_not_truncated();  // else zero padding could decode as literals forever
      if (symbol < 0) error("invalid literal/length code");
      if (symbol < 256) {
        out_.push_back(static_cast<uint8_t>(symbol));
        continue;
      }
      if (symbol == 256) return;
      if (symbol > 285) error("invalid length symbol ", symbol);
      const int li = symbol - 257;
      const size_t length = tables.length_base[li] + in_.bits(tables.length_extra[li]);
      const int dsymbol = dist.decode(in_);
      if (dsymbol < 0) error("invalid distance code");
      if (dsymbol > 29) error("invalid distance symbol ", dsymbol);
      const size_t distance = tables.distance_base[dsymbol] + in_.bits(tables.distance_extra[dsymbol]);
      check_not_truncated();
      if (distance > out_.size())
        error("distance ", distance, " reaches before the start of the output (", out_.size(), " bytes)");
      const size_t at = out_.size(), from = at - distance;
      out_.resize(at + length);
      uint8_t* p = out_.data();
      if (distance >= length) {
        std::memcpy(p + at, p + from, length);
      } else {  // the copy reads bytes it writes: a repeating pattern, byte by byte
        for (size_t k = 0; k < length; ++k) p[at + k] = p[from + k];
      }
    }
  }

  std::span<const uint8_t> raw_;  // the whole stream, for stored blocks
  BitReader in_;
  std::string_view what_;
  std::vector<uint8_t>& out_;
};

}  // namespace detail

// Decompresses one raw deflate stream appended to `out`; returns the input bytes it used.
// `what` names the input in error messages.
inline size_t inflate(std::span<const uint8_t> in, std::vector<uint8_t>& out, std::string_view what) {
  return detail::Inflater(in, what, out).run();
}

inline bool is_gzip(std::span<const uint8_t> data) { return data.size() >= 2 && data[0] == 0x1f && data[1] == 0x8b; }

// Decompresses a gzip file (one or more members), checking each member's CRC-32 and length.
inline std::vector<uint8_t> gunzip(std::span<const uint8_t> in, std::string_view what) {
  auto error = [&](const auto&... args) { fail("gunzip", what, ": ", args...); };
  std::vector<uint8_t> out;
  if (in.size() >= 4) out.reserve(std::min<size_t>(load_le<uint32_t>(in.data() + in.size() - 4), in.size() * 1032));
  size_t pos = 0;
  do {
    const size_t member_start = pos;
    if (in.size() - pos < 10) error("truncated: gzip header cut off at byte ", pos);
    if (!is_gzip(in.subspan(pos))) error("not gzip data (bad magic bytes at byte ", pos, ")");
    if (in[pos + 2] != 8) error("unsupported compression method ", int(in[pos + 2]), " (only 8, deflate)");
    const uint8_t flags = in[pos + 3];
    if (flags & 0xE0) error("reserved header flag bits are set");
    pos += 10;
    auto need = [&](size_t n, const char* field) {
      if (in.size() - pos < n) error("truncated: gzip header field ", field, " cut off");
    };
    if (flags & 0x04) {  // FEXTRA: a length-prefixed field
      need(2, "XLEN");
      const size_t xlen = load_le<uint16_t>(&in[pos]);
      need(2 + xlen, "EXTRA");
      pos += 2 + xlen;
    }
    for (const uint8_t bit : {uint8_t{0x08}, uint8_t{0x10}}) {  // FNAME, FCOMMENT: zero-terminated
      if (!(flags & bit)) continue;
      while (pos < in.size() && in[pos] != 0) ++pos;
      need(1, bit == 0x08 ? "FNAME" : "FCOMMENT");
      ++pos;
    }
    if (flags & 0x02) {  // FHCRC: low 16 bits of the CRC-32 of the header so far
      need(2, "HCRC");
      const uint16_t expected = load_le<uint16_t>(&in[pos]);
      if (static_cast<uint16_t>(crc32(in.subspan(member_start, pos - member_start))) != expected)
        error("header CRC mismatch");
      pos += 2;
    }
    const size_t first_output = out.size();
    pos += inflate(in.subspan(pos), out, what);
    if (in.size() - pos < 8) error("truncated: the gzip trailer (CRC-32 and length) is missing");
    const uint32_t expected_crc = load_le<uint32_t>(&in[pos]), expected_size = load_le<uint32_t>(&in[pos + 4]);
    const std::span<const uint8_t> produced(out.data() + first_output, out.size() - first_output);
    if (crc32(produced) != expected_crc) error("CRC-32 mismatch: the data is corrupt");
    if (static_cast<uint32_t>(produced.size()) != expected_size)
      error("length mismatch: the trailer says ", expected_size, " bytes (mod 2^32), decoded ", produced.size());
    pos += 8;
  } while (pos < in.size());
  return out;
}

// Reads a file, decompressing it when it is gzip (by its magic bytes, not its name).
inline std::vector<uint8_t> read_maybe_gzipped(const std::filesystem::path& path, const char* op) {
  std::vector<uint8_t> bytes = read_file(path, op);
  return is_gzip(bytes) ? gunzip(bytes, path.string()) : bytes;
}

}  // namespace jepa
