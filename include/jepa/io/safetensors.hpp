// safetensors files: named tensors plus string metadata, the format of Hugging Face checkpoints.
// Layout: uint64 LE header length N, N bytes of JSON
//   {"__metadata__": {"key": "value"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}}
// then the data buffer; [b, e) are byte offsets into that buffer, little-endian, C order.
// Loading validates the whole header before reading any tensor data: header length against the
// file size, known dtype, shape, offsets consistent with dtype x shape, and that the tensors tile
// the buffer exactly (no overlap, no gap, nothing after the last one), as the format requires.
// Tensors come back in buffer order, which for our files is the order they were saved in.
// Saving writes through AtomicFile and pads the header with spaces so the data starts 8-aligned.
// reference: https://github.com/huggingface/safetensors#format
#pragma once
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <jepa/io/atomic_file.hpp>
#include <jepa/io/file.hpp>
#include <jepa/io/json.hpp>
#include <jepa/jepa.hpp>

namespace jepa {

struct SafeTensors {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in buffer order
  std::map<std::string, std::string> metadata;

  const Tensor* find(std::string_view name) const {
    for (const auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
  const Tensor& at(std::string_view name) const {
    const Tensor* t = find(name);
    JEPA_CHECK(t != nullptr, "safetensors", "no tensor named '", name, "'");
    return *t;
  }
};

namespace detail {

inline const char* safetensors_dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i64: return "I64";
  }
  return "?";
}

inline std::optional<DType> safetensors_dtype(std::string_view name) {
  for (const DType t : {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i64})
    if (name == safetensors_dtype_name(t)) return t;
  return std::nullopt;
}

struct SafeTensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// Checks one tensor's header entry and returns it; `data_size` is the size of the data buffer.
inline SafeTensorsEntry parse_safetensors_entry(const std::string& name, const json::Value& v, uint64_t data_size,
                                                const InputFile& file) {
  if (!v.is_object())
    file.fail("tensor '", name, "': header entry is ", json::kind_name(v.kind), ", expected an object");
  for (const auto& [key, value] : v.members)
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      file.fail("tensor '", name, "': unexpected key \"", key, "\" (expected dtype, shape, data_offsets)");
  const json::Value* dtype = v.find("dtype");
  const json::Value* shape = v.find("shape");
  const json::Value* offsets = v.find("data_offsets");
  if (!dtype || !shape || !offsets)
    file.fail("tensor '", name, "': header entry lacks \"", !dtype ? "dtype" : !shape ? "shape" : "data_offsets", "\"");

  SafeTensorsEntry e{name, DType::f32, {}, 0, 0};
  if (!dtype->is_string())
    file.fail("tensor '", name, "': dtype is ", json::kind_name(dtype->kind), ", expected a string");
  const std::optional<DType> t = safetensors_dtype(dtype->text);
  if (!t)
    file.fail("tensor '", name, "': unsupported dtype \"", dtype->text, "\" (supported: F32, F64, BF16, F16, I64)");
  e.dtype = *t;

  if (!shape->is_array())
    file.fail("tensor '", name, "': shape is ", json::kind_name(shape->kind), ", expected an array");
  uint64_t count = 1;
  for (const json::Value& d : shape->items) {
    const std::optional<int64_t> size = d.as_int64();
    if (!size || *size < 0) file.fail("tensor '", name, "': shape entries must be non-negative integers");
    e.shape.push_back(*size);
    if (__builtin_mul_overflow(count, static_cast<uint64_t>(*size), &count))
      file.fail("tensor '", name, "': shape ", e.shape, " is too large");
  }
  uint64_t nbytes = 0;
  if (__builtin_mul_overflow(count, itemsize(e.dtype), &nbytes))
    file.fail("tensor '", name, "': shape ", e.shape, " is too large");

  if (!offsets->is_array() || offsets->items.size() != 2)
    file.fail("tensor '", name, "': data_offsets must be an array [begin, end]");
  const std::optional<int64_t> begin = offsets->items[0].as_int64(), end = offsets->items[1].as_int64();
  if (!begin || !end || *begin < 0 || *end < 0)
    file.fail("tensor '", name, "': data_offsets must be non-negative integers");
  e.begin = static_cast<uint64_t>(*begin);
  e.end = static_cast<uint64_t>(*end);
  if (e.begin > e.end)
    file.fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] end before they begin");
  if (e.end > data_size)
    file.fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] run past the data buffer (", data_size,
              " bytes)");
  if (e.end - e.begin != nbytes)
    file.fail("tensor '", name, "': data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin, " bytes but ",
              safetensors_dtype_name(e.dtype), " ", e.shape, " needs ", nbytes);
  return e;
}

}  // namespace detail

inline SafeTensors load_safetensors(const std::filesystem::path& path) {
  InputFile file(path, "load_safetensors");
  if (file.size() < 8) file.fail("too small for a safetensors file (", file.size(), " bytes)");
  const std::vector<uint8_t> length_field = file.read(0, 8);
  const uint64_t header_length = load_le<uint64_t>(length_field.data());
  if (header_length > file.size() - 8)
    file.fail("header length ", header_length, " exceeds the file size (", file.size(), " bytes)");
  const uint64_t data_start = 8 + header_length, data_size = file.size() - data_start;
  const std::vector<uint8_t> header_bytes = file.read(8, header_length);
  const std::string_view header_text(reinterpret_cast<const char*>(header_bytes.data()), header_bytes.size());
  if (header_text.empty() || header_text.front() != '{') file.fail("the JSON header must start with '{'");
  const json::Value header = json::parse(header_text, "load_safetensors", path.string() + ": header");
  if (!header.is_object()) file.fail("the JSON header is not an object");

  SafeTensors result;
  std::vector<detail::SafeTensorsEntry> entries;
  for (const auto& [name, value] : header.members) {
    if (name == "__metadata__") {
      if (!value.is_object()) file.fail("__metadata__ is ", json::kind_name(value.kind), ", expected an object");
      for (const auto& [key, text] : value.members) {
        if (!text.is_string())
          file.fail("__metadata__ \"", key, "\" is ", json::kind_name(text.kind), ", expected a string");
        result.metadata[key] = text.text;
      }
      continue;
    }
    entries.push_back(detail::parse_safetensors_entry(name, value, data_size, file));
  }
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t covered = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.begin < covered)
      file.fail("tensor '", e.name, "' data [", e.begin, ", ", e.end, ") overlaps tensor '", entries[i - 1].name, "' [",
                entries[i - 1].begin, ", ", entries[i - 1].end, ")");
    if (e.begin > covered)
      file.fail("bytes [", covered, ", ", e.begin, ") of the data buffer belong to no tensor (before tensor '", e.name,
                "')");
    covered = e.end;
  }
  if (covered != data_size) file.fail("the data buffer has ", data_size, " bytes but the tensors cover only ", covered);

  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    file.read(data_start + e.begin, t.raw_data(), e.end - e.begin);
    result.tensors.emplace_back(e.name, std::move(t));
  }
  return result;
}

// Saves tensors (any dtype, device and layout) in the given order with string metadata.
inline void save_safetensors(const std::filesystem::path& path,
                             const std::vector<std::pair<std::string, Tensor>>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
  const char* op = "save_safetensors";
  std::vector<Tensor> host;
  std::set<std::string_view> names;
  json::ObjectWriter header_object;
  if (!metadata.empty()) {
    json::ObjectWriter strings;
    for (const auto& [key, value] : metadata) strings.add(key, value);
    header_object.add("__metadata__", strings);
  }
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    JEPA_CHECK(!name.empty() && name != "__metadata__", op, path.string(), ": invalid tensor name '", name, "'");
    JEPA_CHECK(tensor.defined(), op, path.string(), ": tensor '", name, "' is undefined");
    JEPA_CHECK(names.insert(name).second, op, path.string(), ": duplicate tensor name '", name, "'");
    host.push_back(tensor.to(Device::cpu()).contiguous());
    const uint64_t nbytes = static_cast<uint64_t>(tensor.numel()) * itemsize(tensor.dtype());
    const int64_t data_offsets[] = {static_cast<int64_t>(offset), static_cast<int64_t>(offset + nbytes)};
    header_object.add(name, json::ObjectWriter()
                                .add("dtype", detail::safetensors_dtype_name(tensor.dtype()))
                                .add("shape", tensor.shape())
                                .add("data_offsets", data_offsets));
    offset += nbytes;
  }
  std::string header = header_object.str();
  header.append((8 - header.size() % 8) % 8, ' ');

  std::vector<uint8_t> length_field;
  store_le<uint64_t>(length_field, header.size());
  AtomicFile file(path, op);
  file.write(length_field.data(), length_field.size());
  file.write(header);
  for (const Tensor& t : host) file.write(t.raw_data(), static_cast<size_t>(t.numel()) * itemsize(t.dtype()));
  file.commit();
}

}  // namespace jepa
