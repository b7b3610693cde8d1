// File formats: JSON, .npy, safetensors, atomic writes, gzip. Reference files come from
// tests/ref/make_io_reference.py (numpy, gzip); corrupt variants are made here by editing
// bytes of good files, one test per validation path.
#include <doctest/doctest.h>

#include <jepa/io/gzip.hpp>
#include <jepa/io/json.hpp>
#include <jepa/io/npy.hpp>
#include <jepa/io/safetensors.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_files.hpp"

using namespace jepa;
using namespace jepa::test;

TEST_CASE("json: values, escapes and exact integers") {
  const json::Value v = json::parse(
      R"( {"a": [1, -2.5e3, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "big": 9007199254740993,
           "o": {}} )",
      "test", "text");
  REQUIRE(v.is_object());
  CHECK(v.members.size() == 4);
  const json::Value& a = *v.find("a");
  CHECK(a.items.size() == 5);
  CHECK(a.items[0].as_int64() == 1);
  CHECK(a.items[1].as_double() == -2500.0);
  CHECK_FALSE(a.items[1].as_int64().has_value());
  CHECK(a.items[2].boolean);
  CHECK(a.items[4].kind == json::Value::Kind::null);
  CHECK(v.find("s")->text == "q\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.find("big")->as_int64() == 9007199254740993);  // above 2^53: not through a double
  CHECK(v.find("o")->is_object());
  CHECK(v.find("missing") == nullptr);
  CHECK(json::parse(json::quote("tab\there \"q\" \x01"), "test", "x").text == "tab\there \"q\" \x01");
  CHECK(json::quote("a/b\b\x1f") == "\"a/b\\b\\u001f\"");
  CHECK(json::number(0.1) == "0.1");
  CHECK(json::number(1e300) == "1e+300");
  CHECK(json::number(std::nan("")) == "null");
  CHECK(json::number(int64_t{-7}) == "-7");
}

TEST_CASE("json: ObjectWriter escapes strings, keeps key order and prints numbers exactly") {
  json::ObjectWriter inner;
  inner.add("frame", 7).add("ball", int64_t{-1});
  const std::vector<int64_t> shape{2, 3};
  const std::string line = json::ObjectWriter()
                               .add("z \"key\"", "a\"b\\c\nd\te\x01\x1f/\xc3\xa9")
                               .add("a", 0.1)
                               .add("nan", std::nan(""))
                               .add("inf", -INFINITY)
                               .add("float", 1e-4f)
                               .add("double", 1.0 / 3.0)
                               .add("big", uint64_t{18446744073709551615u})
                               .add("yes", true)
                               .add("none", nullptr)
                               .add("inner", inner)
                               .add("shape", shape)
                               .add("empty", json::ObjectWriter())
                               .str();
  CHECK(line ==
        "{\"z \\\"key\\\"\":\"a\\\"b\\\\c\\nd\\te\\u0001\\u001f/\xc3\xa9\",\"a\":0.1,\"nan\":null,"
        "\"inf\":null,\"float\":1e-04,\"double\":0.3333333333333333,\"big\":18446744073709551615,\"yes\":true,"
        "\"none\":null,\"inner\":{\"frame\":7,\"ball\":-1},\"shape\":[2,3],\"empty\":{}}");
  const json::Value back = json::parse(line, "test", "line");
  REQUIRE(back.members.size() == 12);
  CHECK(back.members[0].first == "z \"key\"");
  CHECK(back.members[0].second.text == "a\"b\\c\nd\te\x01\x1f/\xc3\xa9");
  CHECK(back.find("double")->as_double() == 1.0 / 3.0);  // round-trips to the same double
  CHECK(static_cast<float>(back.find("float")->as_double()) == 1e-4f);  // and a float to the same float
  CHECK(back.find("inner")->members[1].second.as_int64() == -1);
  CHECK(back.find("shape")->items[1].as_int64() == 3);
  CHECK(json::ObjectWriter().str() == "{}");
}

TEST_CASE("json: malformed text is rejected with its position") {
  auto parse_error = [](std::string_view text) { return error_of([&] { json::parse(text, "test", "doc"); }); };
  CHECK(parse_error(R"({"a": 1,})") == "[test] doc: invalid JSON at byte 8: expected a string key");
  CHECK(parse_error(R"({"a": 1, "a": 2})") == "[test] doc: invalid JSON at byte 12: duplicate key \"a\"");
  CHECK(parse_error("[1, 2") == "[test] doc: invalid JSON at byte 5: expected ']', found the end of the text");
  CHECK(parse_error("01") == "[test] doc: invalid JSON at byte 0: numbers may not have leading zeros");
  CHECK(parse_error("\"a\nb\"") == "[test] doc: invalid JSON at byte 3: control character in a string");
  CHECK(parse_error("\"\\ud800\"") == "[test] doc: invalid JSON at byte 7: unpaired surrogate in a \\u escape");
  CHECK(parse_error("[1] x") == "[test] doc: invalid JSON at byte 4: unexpected 'x' after the JSON value");
  CHECK(parse_error("\"\\x\"") == "[test] doc: invalid JSON at byte 3: invalid escape '\\x'");
  CHECK(parse_error("NaN") == "[test] doc: invalid JSON at byte 0: unexpected 'N'");
  CHECK(parse_error(std::string(100, '[')).find("nesting deeper than 64 levels") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// .npy

TEST_CASE("npy: reads what numpy wrote") {
  const std::string dir = data_path("io/npy/");
  Tensor f4 = load_npy(dir + "f4_2x3.npy");
  CHECK(f4.dtype() == DType::f32);
  CHECK(f4.shape() == Shape{2, 3});
  CHECK(f4.to_vector<double>() == std::vector<double>{-1, -0.5, 0, 0.5, 1, 1.5});
  CHECK(load_npy(dir + "f4_2x3_v2.npy").to_vector<double>() == f4.to_vector<double>());
  CHECK(load_npy(dir + "f4_2x3_v3.npy").to_vector<double>() == f4.to_vector<double>());
  Tensor f8 = load_npy(dir + "f8_scalar.npy");
  CHECK(f8.dtype() == DType::f64);
  CHECK(f8.dim() == 0);
  CHECK(f8.item() == 3.25);
  Tensor i8 = load_npy(dir + "i8_4.npy");
  CHECK(i8.dtype() == DType::i64);
  CHECK(i8.to_vector<int64_t>() == std::vector<int64_t>{-3, 0, 7, int64_t{1} << 40});
  Tensor u1 = load_npy(dir + "u1_2x2x2.npy", DType::f32);
  CHECK(u1.shape() == Shape{2, 2, 2});
  CHECK(u1.to_vector<double>() == std::vector<double>{0, 1, 2, 3, 100, 200, 254, 255});
  CHECK(load_npy(dir + "u1_2x2x2.npy", DType::i64).to_vector<int64_t>()[7] == 255);
  CHECK(load_npy(dir + "f4_2x3.npy", DType::f64).dtype() == DType::f64);
  Tensor empty = load_npy(dir + "f4_empty_0x3.npy");
  CHECK(empty.shape() == Shape{0, 3});
}

TEST_CASE("npy: refuses layouts and dtypes it does not support") {
  const std::string dir = data_path("io/npy/");
  CHECK_THROWS_WITH_AS(load_npy(dir + "fortran_2x3.npy"),
                       doctest::Contains("fortran_order is True; only C-order arrays are supported"), Error);
  CHECK_THROWS_WITH_AS(load_npy(dir + "big_endian_f4.npy"),
                       doctest::Contains("unsupported dtype '>f4' (supported: <f4, <f8, <i8, |u1)"), Error);
  CHECK_THROWS_WITH_AS(load_npy(dir + "u1_2x2x2.npy"),
                       doctest::Contains("holds uint8 data: pass the dtype to read it as (f32 or i64)"), Error);
  CHECK_THROWS_WITH_AS(save_npy(temp_path("bf16.npy"), ones({2}, DType::bf16)),
                       doctest::Contains("cannot save dtype bf16"), Error);
}

TEST_CASE("npy: round trips and writes exactly what numpy writes") {
  const std::string path = temp_path("roundtrip.npy");
  Tensor a = from_vector(std::vector<float>{-1, -0.5, 0, 0.5, 1, 1.5}, {2, 3});
  save_npy(path, a);
  CHECK(read_bytes(path) == read_bytes(data_path("io/npy/f4_2x3.npy")));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  save_npy(path, from_vector(std::vector<int64_t>{-3, 0, 7, int64_t{1} << 40}, {4}));
  CHECK(read_bytes(path) == read_bytes(data_path("io/npy/i8_4.npy")));
  save_npy(path, full({}, 3.25, DType::f64));
  CHECK(read_bytes(path) == read_bytes(data_path("io/npy/f8_scalar.npy")));

  Tensor b = arange(0.0, 24.0, 1.0, DType::f64).reshape({2, 3, 4}).permute({2, 0, 1});  // not contiguous
  save_npy(path, b);
  Tensor back = load_npy(path);
  CHECK(back.shape() == Shape{4, 2, 3});
  CHECK(back.to_vector<double>() == b.to_vector<double>());
  Tensor five = zeros({1, 2, 1, 2, 1}, DType::f32);
  save_npy(path, five);
  CHECK(load_npy(path).shape() == five.shape());
}

TEST_CASE("npy: every validation error names the file and the problem") {
  const std::string good = data_path("io/npy/f4_2x3.npy");
  const Bytes bytes = read_bytes(good);  // 128-byte header, then 24 bytes of data
  const std::string path = temp_path("bad.npy");
  auto error_with = [&](const Bytes& content) {
    write_bytes(path, content);
    return error_of([&] { load_npy(path); });
  };
  const std::string prefix = "[load_npy] " + path + ": ";
  CHECK(error_with(slice(bytes, 0, bytes.size() - 4)) == prefix + "truncated: expected 24 bytes of data, found 20");
  Bytes longer = bytes;
  longer.push_back(0);
  CHECK(error_with(longer) == prefix + "expected 24 bytes of data for shape [2, 3], found 25 (1 trailing bytes)");
  CHECK(error_with(slice(bytes, 0, 5)) == prefix + "too small for a .npy file (5 bytes)");
  CHECK(error_with(slice(bytes, 0, 9)) == prefix + "truncated: the header length field is cut off");
  CHECK(error_with(slice(bytes, 0, 60)) ==
        prefix + "truncated: header of 118 bytes ends past the end of the file (60 bytes)");
  CHECK(error_with(replaced(bytes, "NUMPY", "NUMPZ")) ==
        prefix + "not a .npy file (the magic string \\x93NUMPY is missing)");
  Bytes version = bytes;
  version[6] = 4;
  CHECK(error_with(version) == prefix + "unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)");
  Bytes no_newline = bytes;
  no_newline[127] = ' ';
  CHECK(error_with(no_newline) == prefix + "invalid header: it must end with a newline");
  CHECK(error_with(replaced(bytes, "'descr'", "'dtype'")).find("unexpected key 'dtype'") != std::string::npos);
  CHECK(error_with(replaced(bytes, "'shape': (2, 3), ", std::string(17, ' '))).find("lacks the key 'shape'") !=
        std::string::npos);
  CHECK(error_with(replaced(bytes, "False", "Nope!")).find("expected True or False") != std::string::npos);
  CHECK(error_with(replaced(bytes, "(2, 3)", "(2,-3)")).find("expected a non-negative integer dimension") !=
        std::string::npos);
  CHECK(error_with(replaced(bytes, "}  ", "} x")).find("unexpected text after") != std::string::npos);
  CHECK(error_with(replaced(bytes, "(2, 3)", "(2, 4)")) == prefix + "truncated: expected 32 bytes of data, found 24");
  CHECK_THROWS_WITH_AS(load_npy(temp_path("does-not-exist.npy")), doctest::Contains("cannot open: No such file"),
                       Error);
}

// ---------------------------------------------------------------------------------------------
// safetensors

TEST_CASE("safetensors: reads a file assembled by Python, every dtype and the metadata") {
  const SafeTensors st = load_safetensors(data_path("io/mixed.safetensors"));
  REQUIRE(st.tensors.size() == 5);
  CHECK(st.tensors[0].first == "weight");  // buffer order
  CHECK(st.tensors[4].first == "steps");
  CHECK(st.at("weight").shape() == Shape{2, 3});
  CHECK(st.at("weight").to_vector<double>() == std::vector<double>{1.5, -2, 0.25, 3, 4, -5});
  CHECK(st.at("bias").dtype() == DType::f64);
  CHECK(st.at("bias").to_vector<double>() == std::vector<double>{0.1, 0.2, 0.3});
  CHECK(st.at("half").dtype() == DType::f16);
  CHECK(st.at("half").to_vector<double>() == std::vector<double>{1.0, -0.5});
  CHECK(st.at("brain").dtype() == DType::bf16);
  CHECK(st.at("brain").to_vector<double>() == std::vector<double>{1.0, 3.0});
  CHECK(st.at("steps").dim() == 0);
  CHECK(st.at("steps").item() == 42);
  CHECK(st.metadata == std::map<std::string, std::string>{{"format", "pt"}, {"step", "7"}});
  CHECK_THROWS_WITH_AS(st.at("nope"), "[safetensors] no tensor named 'nope'", Error);
}

TEST_CASE("safetensors: round trip keeps order, dtypes, shapes, values and metadata") {
  const std::string path = temp_path("model.safetensors");
  Generator gen(3);
  std::vector<std::pair<std::string, Tensor>> tensors = {{"blocks.0.attn.qkv.weight", normal({6, 4}, 0, 1, gen)},
                                                         {"blocks.0.attn.qkv.bias", normal({6}, 0, 1, gen, DType::f64)},
                                                         {"pos_embed", normal({1, 3, 4}, 0, 1, gen).to(DType::bf16)},
                                                         {"half", normal({5}, 0, 1, gen).to(DType::f16)},
                                                         {"step", full({}, 1234567, DType::i64)},
                                                         {"empty", zeros({0, 4})},
                                                         {"transposed", normal({3, 5}, 0, 1, gen).transpose(0, 1)},
                                                         {"name with \"quotes\" and \xc3\xa9", ones({2})}};
  const std::map<std::string, std::string> metadata = {{"epoch", "3"}, {"note", "line\nbreak \"quoted\""}};
  save_safetensors(path, tensors, metadata);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(load_le<uint64_t>(read_bytes(path).data()) % 8 == 0);  // the header is padded: data starts 8-aligned
  const SafeTensors back = load_safetensors(path);
  REQUIRE(back.tensors.size() == tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CAPTURE(tensors[i].first);
    CHECK(back.tensors[i].first == tensors[i].first);
    CHECK(back.tensors[i].second.dtype() == tensors[i].second.dtype());
    CHECK(back.tensors[i].second.shape() == tensors[i].second.shape());
    CHECK(back.tensors[i].second.to_vector<double>() == tensors[i].second.to_vector<double>());
  }
  CHECK(back.metadata == metadata);

  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"a", ones({1})}, {"a", ones({1})}}),
                       doctest::Contains("duplicate tensor name 'a'"), Error);
  CHECK_THROWS_WITH_AS(save_safetensors(path, {{"__metadata__", ones({1})}}),
                       doctest::Contains("invalid tensor name '__metadata__'"), Error);
  CHECK(load_safetensors(path).tensors.size() == tensors.size());  // failed saves left the file alone
}

namespace {

// A safetensors file with the given header text and `data_size` bytes of data.
Bytes safetensors_file(const std::string& header, size_t data_size) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + data_size, 0);
  return out;
}

}  // namespace

TEST_CASE("safetensors: every validation error names the file and the tensor") {
  const std::string path = temp_path("bad.safetensors");
  auto error_with = [&](const Bytes& content) {
    write_bytes(path, content);
    return error_of([&] { load_safetensors(path); });
  };
  const std::string prefix = "[load_safetensors] " + path + ": ";
  const std::string a = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  CHECK(error_with(safetensors_file("{" + a + "}", 8)) == "no error");
  CHECK(error_with(Bytes{1, 2, 3}) == prefix + "too small for a safetensors file (3 bytes)");
  Bytes huge = safetensors_file("{" + a + "}", 8);
  huge[5] = 1;
  CHECK(error_with(huge) == prefix + "header length 1099511627830 exceeds the file size (70 bytes)");
  CHECK(error_with(safetensors_file("[]", 0)) == prefix + "the JSON header must start with '{'");
  CHECK(error_with(safetensors_file("{" + a, 8)) ==
        prefix + "header: invalid JSON at byte 53: expected '}', found the end of the text");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})", 8)) ==
        prefix + "tensor 'a': unsupported dtype \"I32\" (supported: F32, F64, BF16, F16, I64)");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)) ==
        prefix + "tensor 'a': data_offsets [0, 8] span 8 bytes but F32 [3] needs 12");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4)) ==
        prefix + "tensor 'a': data_offsets [0, 8] run past the data buffer (4 bytes)");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8)) ==
        prefix + "tensor 'a': data_offsets [8, 0] end before they begin");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)) ==
        prefix + "tensor 'a': shape entries must be non-negative integers");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[2]}})", 8)) ==
        prefix + "tensor 'a': header entry lacks \"data_offsets\"");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", 8)) ==
        prefix + "tensor 'a': unexpected key \"x\" (expected dtype, shape, data_offsets)");
  CHECK(error_with(safetensors_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8)) ==
        prefix + "tensor 'a': data_offsets must be an array [begin, end]");
  CHECK(error_with(safetensors_file(R"({"a":[]})", 0)) ==
        prefix + "tensor 'a': header entry is an array, expected an object");
  CHECK(error_with(safetensors_file("{" + a + R"(,"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)) ==
        prefix + "tensor 'b' data [4, 8) overlaps tensor 'a' [0, 8)");
  CHECK(error_with(safetensors_file(R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)) ==
        prefix + "bytes [0, 4) of the data buffer belong to no tensor (before tensor 'b')");
  CHECK(error_with(safetensors_file("{" + a + "}", 12)) ==
        prefix + "the data buffer has 12 bytes but the tensors cover only 8");
  CHECK(error_with(safetensors_file(R"({"__metadata__":{"k":1}})", 0)) ==
        prefix + "__metadata__ \"k\" is a number, expected a string");
  CHECK(error_with(safetensors_file(R"({"__metadata__":{"k":"v"}})", 0)) == "no error");
}

TEST_CASE("atomic writes leave the old file when a write is abandoned") {
  const std::string path = temp_path("atomic.bin");
  write_file_atomically(path, "old contents", "test");
  {
    AtomicFile file(path, "test");
    file.write("half of the new");
    CHECK(std::filesystem::exists(path + ".tmp"));
  }  // destroyed without commit, as when an exception unwinds
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(read_bytes(path) == to_bytes("old contents"));
  write_file_atomically(path, "new", "test");
  CHECK(read_bytes(path) == to_bytes("new"));
  CHECK_THROWS_WITH_AS(write_file_atomically("/nonexistent-dir/x.bin", "x", "test"),
                       "[test] cannot create /nonexistent-dir/x.bin.tmp: No such file or directory", Error);
}

// ---------------------------------------------------------------------------------------------
// gzip

TEST_CASE("gunzip reads what Python's gzip wrote: one member, a file name, two members, nothing") {
  const Bytes plain = read_bytes(data_path("io/gzip/plain.bin"));
  CHECK(gunzip(read_bytes(data_path("io/gzip/level9.gz")), "level9.gz") == plain);
  CHECK(gunzip(read_bytes(data_path("io/gzip/named.gz")), "named.gz") == plain);
  Bytes twice = plain;
  twice.insert(twice.end(), plain.begin(), plain.begin() + 100);
  CHECK(gunzip(read_bytes(data_path("io/gzip/two_members.gz")), "two_members.gz") == twice);
  CHECK(gunzip(read_bytes(data_path("io/gzip/empty.gz")), "empty.gz").empty());
  CHECK(read_maybe_gzipped(data_path("io/gzip/level9.gz"), "test") == plain);
  CHECK(read_maybe_gzipped(data_path("io/gzip/plain.bin"), "test") == plain);
  // Output far larger than the size hint of the last member's trailer grows as it goes.
  const Bytes zeros(3'000'000, 0);
  Bytes big = gzip_bytes(zeros);
  const Bytes small = gzip_bytes(to_bytes("x"));
  big.insert(big.end(), small.begin(), small.end());
  CHECK(gunzip(big, "big.gz").size() == zeros.size() + 1);
}

TEST_CASE("gunzip refuses corrupt, truncated and trailing input, naming it") {
  const Bytes gz = read_bytes(data_path("io/gzip/level9.gz"));
  // Every truncation fails (the member needs its last trailer byte).
  for (size_t n = 0; n < gz.size(); n += (n < 40 ? 1 : 37)) {
    CAPTURE(n);
    CHECK_THROWS_AS(gunzip(slice(gz, 0, n), "cut.gz"), Error);
  }
  CHECK_THROWS_WITH_AS(gunzip(slice(gz, 0, gz.size() - 1), "cut.gz"),
                       "[gunzip] cut.gz: truncated: the data ends inside a gzip member (2141 bytes read)", Error);
  CHECK_THROWS_WITH_AS(gunzip(slice(gz, 0, 900), "cut.gz"),
                       "[gunzip] cut.gz: truncated: the data ends inside a gzip member (900 bytes read)", Error);
  CHECK_THROWS_WITH_AS(gunzip(slice(gz, 0, 1), "cut.gz"),
                       "[gunzip] cut.gz: not gzip data (it does not start with the bytes 1f 8b)", Error);
  // Every changed byte after the fixed header (MTIME, XFL and OS are free-form) is caught.
  for (size_t i = 10; i < gz.size(); i += 13) {
    CAPTURE(i);
    Bytes bad = gz;
    bad[i] ^= 0x5a;
    CHECK_THROWS_WITH_AS(gunzip(bad, "flipped.gz"), doctest::Contains("[gunzip] flipped.gz: "), Error);
  }
  Bytes crc = gz;
  crc[crc.size() - 8] ^= 1;
  CHECK_THROWS_WITH_AS(gunzip(crc, "x.gz"),
                       "[gunzip] x.gz: corrupt gzip data near compressed byte 2138: incorrect data check", Error);
  Bytes length = gz;
  length[length.size() - 4] ^= 1;
  CHECK_THROWS_WITH_AS(gunzip(length, "x.gz"),
                       "[gunzip] x.gz: corrupt gzip data near compressed byte 2142: incorrect length check", Error);
  Bytes method = gz;
  method[2] = 7;
  CHECK_THROWS_WITH_AS(gunzip(method, "x.gz"),
                       "[gunzip] x.gz: corrupt gzip data near compressed byte 4: unknown compression method", Error);
  Bytes flags = gz;
  flags[3] = 0x20;
  CHECK_THROWS_WITH_AS(gunzip(flags, "x.gz"),
                       "[gunzip] x.gz: corrupt gzip data near compressed byte 4: unknown header flags set", Error);
  Bytes garbage = gz;
  garbage.push_back(0);
  CHECK_THROWS_WITH_AS(
      gunzip(garbage, "x.gz"),
      "[gunzip] x.gz: 1 trailing bytes after the gzip member that ends at byte 2142 are not another member", Error);
  // A file: the message names its path.
  const std::string path = temp_path("corrupt.gz");
  write_bytes(path, crc);
  const std::string expected =
      "[gunzip] " + path + ": corrupt gzip data near compressed byte 2138: incorrect data check";
  CHECK_THROWS_WITH_AS(read_maybe_gzipped(path, "test"), expected.c_str(), Error);
}

TEST_CASE("file errors name the file") {
  const std::string expected = "[test] " + temp_path("missing.bin") + ": cannot open: No such file or directory";
  CHECK_THROWS_WITH_AS(read_file(temp_path("missing.bin"), "test"), expected.c_str(), Error);
  CHECK_THROWS_WITH_AS(read_file(temp_dir(), "test"), doctest::Contains("is a directory, not a file"), Error);
}
