#include "frontends/kserve_json.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/utf8.h"
#include "common/version.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace imagen::frontends {
namespace {

using json = nlohmann::json;

// Dumps with invalid UTF-8 replaced by U+FFFD instead of throwing
// (type_error 316): BYTES outputs and folder names need not be UTF-8.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The leaves of a (nested) "data" array in row-major order, without
// recursion (the nesting depth is bounded by JsonDepthExceeds already, but
// the walk must not depend on it).
void Flatten(const json& root, std::vector<const json*>* out) {
  if (!root.is_array()) {
    out->push_back(&root);
    return;
  }
  std::vector<std::pair<const json*, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto& [node, index] = stack.back();
    if (index == node->size()) {
      stack.pop_back();
      continue;
    }
    const json& child = (*node)[index++];
    if (child.is_array()) {
      stack.emplace_back(&child, 0);
    } else {
      out->push_back(&child);
    }
  }
}

template <typename T>
bool JsonToNumber(const json& v, T* out) {
  if (v.is_boolean()) {
    *out = static_cast<T>(v.get<bool>());
    return true;
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) return false;
    double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) > static_cast<double>(std::numeric_limits<T>::max())) {
      d = d > 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    }
    *out = static_cast<T>(d);
    return true;
  } else {
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (!std::in_range<T>(u)) return false;
      *out = static_cast<T>(u);
      return true;
    }
    if (v.is_number_integer()) {
      int64_t i = v.get<int64_t>();
      if (!std::in_range<T>(i)) return false;
      *out = static_cast<T>(i);
      return true;
    }
    return false;
  }
}

template <typename T>
absl::Status AppendNumbers(const std::vector<const json*>& values, const std::string& name, std::string* out) {
  out->reserve(values.size() * sizeof(T));
  for (const json* v : values) {
    T x;
    if (!JsonToNumber(*v, &x)) {
      return absl::InvalidArgumentError(absl::StrCat("unable to parse 'data' of input '", name, "': expected ",
                                                     std::is_floating_point_v<T> ? "numbers" : "integers in range"));
    }
    out->append(reinterpret_cast<const char*>(&x), sizeof(T));
  }
  return absl::OkStatus();
}

absl::Status JsonDataToRaw(const json& data, const std::string& dt, const std::string& name, std::string* out) {
  std::vector<const json*> values;
  Flatten(data, &values);
  if (dt == "FP32") return AppendNumbers<float>(values, name, out);
  if (dt == "FP64") return AppendNumbers<double>(values, name, out);
  if (dt == "INT8") return AppendNumbers<int8_t>(values, name, out);
  if (dt == "INT16") return AppendNumbers<int16_t>(values, name, out);
  if (dt == "INT32") return AppendNumbers<int32_t>(values, name, out);
  if (dt == "INT64") return AppendNumbers<int64_t>(values, name, out);
  if (dt == "UINT8" || dt == "BOOL") return AppendNumbers<uint8_t>(values, name, out);
  if (dt == "UINT16") return AppendNumbers<uint16_t>(values, name, out);
  if (dt == "UINT32") return AppendNumbers<uint32_t>(values, name, out);
  if (dt == "UINT64") return AppendNumbers<uint64_t>(values, name, out);
  if (dt == "BYTES") {
    for (const json* v : values) {
      if (!v->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unable to parse 'data' of input '", name, "': expected strings"));
      }
      const std::string& s = v->get_ref<const std::string&>();
      uint32_t n = static_cast<uint32_t>(s.size());
      out->append(reinterpret_cast<const char*>(&n), 4);
      *out += s;
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid datatype '", dt, "' for input '", name, "'"));
}

template <typename T>
void RawToJsonNumbers(const std::string& raw, json* out) {
  size_t n = raw.size() / sizeof(T);
  for (size_t i = 0; i < n; ++i) {
    T x;
    std::memcpy(&x, raw.data() + i * sizeof(T), sizeof(T));
    out->push_back(x);
  }
}

json RawToJson(const serving::Tensor& t) {
  json out = json::array();
  const std::string& dt = t.datatype;
  if (dt == "FP32")
    RawToJsonNumbers<float>(t.data, &out);
  else if (dt == "FP64")
    RawToJsonNumbers<double>(t.data, &out);
  else if (dt == "INT8")
    RawToJsonNumbers<int8_t>(t.data, &out);
  else if (dt == "INT16")
    RawToJsonNumbers<int16_t>(t.data, &out);
  else if (dt == "INT32")
    RawToJsonNumbers<int32_t>(t.data, &out);
  else if (dt == "INT64")
    RawToJsonNumbers<int64_t>(t.data, &out);
  else if (dt == "UINT8")
    RawToJsonNumbers<uint8_t>(t.data, &out);
  else if (dt == "UINT16")
    RawToJsonNumbers<uint16_t>(t.data, &out);
  else if (dt == "UINT32")
    RawToJsonNumbers<uint32_t>(t.data, &out);
  else if (dt == "UINT64")
    RawToJsonNumbers<uint64_t>(t.data, &out);
  else if (dt == "BOOL") {
    for (char c : t.data) out.push_back(c != 0);
  } else if (dt == "BYTES") {
    size_t pos = 0;
    while (pos + 4 <= t.data.size()) {
      uint32_t n;
      std::memcpy(&n, t.data.data() + pos, 4);
      pos += 4;
      out.push_back(t.data.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

// Reads parameters[key] as a non-negative integer into *out when present;
// any other value is an error (never silently ignored).
absl::Status ParamInt(const json& params, const char* key, uint64_t* out, bool* present = nullptr) {
  if (present != nullptr) *present = false;
  if (!params.is_object() || !params.contains(key)) return absl::OkStatus();
  const json& v = params[key];
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
  } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v.get<int64_t>());
  } else {
    return absl::InvalidArgumentError(absl::StrCat("parameter '", key, "' must be a non-negative integer"));
  }
  if (present != nullptr) *present = true;
  return absl::OkStatus();
}

// Triton prints 64-bit integers of the config as JSON numbers.
const std::set<std::string> kIntFields = {"dims",
                                          "shape",
                                          "max_queue_delay_microseconds",
                                          "default_timeout_microseconds",
                                          "priority_levels",
                                          "default_priority_level",
                                          "versions",
                                          "model_version"};

void FixInts(json& j, bool convert) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) FixInts(it.value(), kIntFields.count(it.key()) > 0);
  } else if (j.is_array()) {
    for (auto& x : j) FixInts(x, convert);
  } else if (convert && j.is_string()) {
    int64_t v;
    if (absl::SimpleAtoi(j.get<std::string>(), &v)) j = v;
  }
}

struct ShmParams {
  std::string region;  // empty: none given
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// A tensor's shared_memory_region / _byte_size / _offset parameters: region
// and byte size go together (Triton's rule), offset defaults to 0.
absl::Status ReadShmParams(const json& params, const char* what, const std::string& tensor, ShmParams* out) {
  if (!params.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, " 'parameters' must be an object"));
  bool has_region = params.contains("shared_memory_region");
  bool has_size = false;
  RETURN_IF_ERROR(ParamInt(params, "shared_memory_byte_size", &out->byte_size, &has_size));
  RETURN_IF_ERROR(ParamInt(params, "shared_memory_offset", &out->offset));
  if (!has_region && !has_size) {
    if (params.contains("shared_memory_offset")) {
      return absl::InvalidArgumentError(absl::StrCat(what, " '", tensor,
                                                     "': shared_memory_offset needs shared_memory_region and "
                                                     "shared_memory_byte_size"));
    }
    return absl::OkStatus();
  }
  if (!has_region || !has_size || !params["shared_memory_region"].is_string() ||
      params["shared_memory_region"].get<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " '", tensor, "': shared memory needs both shared_memory_region (a string) and shared_memory_byte_size"));
  }
  out->region = params["shared_memory_region"].get<std::string>();
  return absl::OkStatus();
}

absl::StatusOr<serving::InferRequest> ParseInferRequestOrThrow(
    const std::string& body, std::optional<size_t> header_length, const std::string& model, const std::string& version,
    bool* binary_outputs_default, std::vector<std::string>* binary_outputs, std::vector<std::string>* json_outputs,
    const serving::SharedMemoryManager* shm, serving::SharedMemoryOutputs* shm_outputs) {
  size_t json_len = header_length.value_or(body.size());
  if (json_len > body.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Inference-Header-Content-Length ", json_len, " exceeds the body size ", body.size()));
  }
  auto parsed = ParseJsonObject(std::string_view(body).substr(0, json_len), "request");
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  serving::InferRequest r;
  r.model_name = model;
  r.model_version = version;
  if (j.contains("id") && j["id"].is_string()) r.id = j["id"].get<std::string>();
  *binary_outputs_default = false;
  if (j.contains("parameters")) {
    const json& p = j["parameters"];
    if (!p.is_object()) return absl::InvalidArgumentError("request 'parameters' must be an object");
    RETURN_IF_ERROR(ParamInt(p, "priority", &r.priority));
    RETURN_IF_ERROR(ParamInt(p, "timeout", &r.timeout_us));
    if (p.contains("binary_data_output") && p["binary_data_output"].is_boolean()) {
      *binary_outputs_default = p["binary_data_output"].get<bool>();
    }
  }
  if (!j.contains("inputs") || !j["inputs"].is_array()) {
    return absl::InvalidArgumentError("failed to parse the request JSON buffer: missing 'inputs' array");
  }
  size_t offset = json_len;
  for (const json& in : j["inputs"]) {
    if (!in.is_object() || !in.contains("name") || !in["name"].is_string() || !in.contains("datatype") ||
        !in["datatype"].is_string() || !in.contains("shape") || !in["shape"].is_array()) {
      return absl::InvalidArgumentError("each input needs 'name', 'datatype' and 'shape'");
    }
    serving::Tensor t;
    t.name = in["name"].get<std::string>();
    t.datatype = in["datatype"].get<std::string>();
    for (const json& d : in["shape"]) {
      if (!d.is_number_integer() || (d.is_number_unsigned() && !std::in_range<int64_t>(d.get<uint64_t>())) ||
          d.get<int64_t>() < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid shape for input '", t.name, "': dimensions must be integers in [0, 2^63)"));
      }
      t.shape.push_back(d.get<int64_t>());
    }
    uint64_t binary_size = 0;
    bool binary = false;
    ShmParams shm_in;
    if (in.contains("parameters")) {
      RETURN_IF_ERROR(ParamInt(in["parameters"], "binary_data_size", &binary_size, &binary));
      RETURN_IF_ERROR(ReadShmParams(in["parameters"], "input", t.name, &shm_in));
    }
    if (!shm_in.region.empty()) {
      if (binary || in.contains("data")) {
        return absl::InvalidArgumentError(absl::StrCat(
            "input '", t.name, "' has shared_memory_region and also 'data' or binary_data_size; give one"));
      }
      if (shm == nullptr) return absl::InvalidArgumentError("shared memory is not enabled on this endpoint");
      RETURN_IF_ERROR(serving::ReadSharedMemoryInput(*shm, shm_in.region, shm_in.offset, shm_in.byte_size, &t));
    } else if (binary) {
      if (binary_size > body.size() - offset) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected size for input '", t.name, "': binary data extends past the end of the body"));
      }
      t.data = body.substr(offset, binary_size);
      offset += binary_size;
    } else if (in.contains("data")) {
      absl::Status s = JsonDataToRaw(in["data"], t.datatype, t.name, &t.data);
      if (!s.ok()) return s;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("input '", t.name, "' has neither 'data' nor binary_data_size"));
    }
    r.inputs.push_back(std::move(t));
  }
  if (offset != body.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected additional input data: ", body.size() - offset, " bytes after the last input"));
  }
  if (j.contains("outputs") && j["outputs"].is_array()) {
    for (const json& out : j["outputs"]) {
      if (!out.is_object() || !out.contains("name") || !out["name"].is_string()) {
        return absl::InvalidArgumentError("each requested output needs a 'name'");
      }
      std::string name = out["name"].get<std::string>();
      r.outputs.push_back(name);
      ShmParams shm_out;
      if (out.contains("parameters")) RETURN_IF_ERROR(ReadShmParams(out["parameters"], "output", name, &shm_out));
      if (!shm_out.region.empty()) {
        if (shm == nullptr || shm_outputs == nullptr) {
          return absl::InvalidArgumentError("shared memory is not enabled on this endpoint");
        }
        auto ref = shm->Resolve(name, shm_out.region, shm_out.offset, shm_out.byte_size);
        if (!ref.ok()) return ref.status();
        (*shm_outputs)[name] = std::move(*ref);
      }
      if (out.contains("parameters") && out["parameters"].is_object() && out["parameters"].contains("binary_data") &&
          out["parameters"]["binary_data"].is_boolean()) {
        (out["parameters"]["binary_data"].get<bool>() ? binary_outputs : json_outputs)->push_back(name);
      }
    }
  }
  return r;
}

}  // namespace

bool JsonDepthExceeds(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

absl::StatusOr<json> ParseJsonObject(std::string_view text, std::string_view what) {
  if (JsonDepthExceeds(text, kMaxJsonDepth)) {
    return absl::InvalidArgumentError(absl::StrCat("failed to parse the ", std::string(what),
                                                   " JSON buffer: nesting deeper than ", kMaxJsonDepth, " levels"));
  }
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("failed to parse the ", std::string(what), " JSON buffer: not a valid JSON object"));
  }
  return j;
}

absl::StatusOr<serving::InferRequest> ParseInferRequest(
    const std::string& body, std::optional<size_t> header_length, const std::string& model, const std::string& version,
    bool* binary_outputs_default, std::vector<std::string>* binary_outputs, std::vector<std::string>* json_outputs,
    const serving::SharedMemoryManager* shm, serving::SharedMemoryOutputs* shm_outputs) {
  try {
    return ParseInferRequestOrThrow(body, header_length, model, version, binary_outputs_default, binary_outputs,
                                    json_outputs, shm, shm_outputs);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(ToValidUtf8(absl::StrCat("failed to parse the request JSON buffer: ", e.what())));
  }
}

absl::StatusOr<serving::InferRequest> ParseRawInferRequest(std::string body, const inference::ModelConfig& config,
                                                           const std::string& model, const std::string& version) {
  if (config.input_size() != 1) {
    return absl::InvalidArgumentError(
        ToValidUtf8(absl::StrCat("a raw binary request (Inference-Header-Content-Length: 0) needs a model with "
                                 "exactly one input; model '",
                                 model, "' has ", config.input_size())));
  }
  const inference::ModelInput& in = config.input(0);
  serving::Tensor t;
  t.name = in.name();
  t.datatype = serving::DataTypeName(in.data_type());
  if (config.max_batch_size() > 0) t.shape.push_back(1);
  int dynamic_axis = -1;
  int64_t fixed = 1;
  for (int64_t d : in.dims()) {
    if (d == -1) {
      if (dynamic_axis != -1) {
        return absl::InvalidArgumentError(absl::StrCat("the shape of the raw input '", in.name(),
                                                       "' cannot be deduced: more than one variable dimension"));
      }
      dynamic_axis = static_cast<int>(t.shape.size());
    } else if (d < 0 || __builtin_mul_overflow(fixed, d, &fixed)) {
      return absl::InvalidArgumentError(absl::StrCat("invalid dims for input '", in.name(), "'"));
    }
    t.shape.push_back(d);
  }
  if (in.data_type() == inference::TYPE_STRING) {
    if (dynamic_axis != -1 || fixed != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("for BYTES raw input '", in.name(), "' the model must have input shape [1]"));
    }
    if (body.size() > UINT32_MAX) return absl::InvalidArgumentError("raw BYTES input larger than 4 GiB");
    uint32_t n = static_cast<uint32_t>(body.size());
    t.data.assign(reinterpret_cast<const char*>(&n), 4);
    t.data += body;
  } else {
    size_t elem = serving::DataTypeSize(in.data_type());
    if (elem == 0) return absl::InvalidArgumentError(absl::StrCat("raw input '", in.name(), "' has no datatype size"));
    if (dynamic_axis != -1) {
      if (fixed == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("the shape of the raw input '", in.name(), "' cannot be deduced (a fixed dimension is 0)"));
      }
      t.shape[static_cast<size_t>(dynamic_axis)] =
          static_cast<int64_t>(body.size() / static_cast<size_t>(fixed) / elem);
    }
    t.data = std::move(body);  // a size that does not match the shape is rejected by validation
  }
  serving::InferRequest r;
  r.model_name = model;
  r.model_version = version;
  r.inputs.push_back(std::move(t));
  return r;
}

EncodedResponse EncodeInferResponse(const serving::InferResponse& response, bool binary_default,
                                    const std::vector<std::string>& binary_outputs,
                                    const std::vector<std::string>& json_outputs,
                                    const serving::SharedMemoryOutputs* shm_outputs) {
  json j;
  j["model_name"] = response.model_name;
  j["model_version"] = response.model_version;
  if (!response.id.empty()) j["id"] = response.id;
  j["outputs"] = json::array();
  std::string binary;
  for (const auto& t : response.outputs) {
    json o;
    o["name"] = t.name;
    o["datatype"] = t.datatype;
    o["shape"] = t.shape;
    if (shm_outputs != nullptr) {
      if (auto it = shm_outputs->find(t.name); it != shm_outputs->end()) {  // the data is in the region
        o["parameters"]["shared_memory_region"] = it->second.region->name();
        o["parameters"]["shared_memory_byte_size"] = t.data.size();
        if (it->second.offset != 0) o["parameters"]["shared_memory_offset"] = it->second.offset;
        j["outputs"].push_back(std::move(o));
        continue;
      }
    }
    bool as_binary = binary_default;
    if (std::find(binary_outputs.begin(), binary_outputs.end(), t.name) != binary_outputs.end()) as_binary = true;
    if (std::find(json_outputs.begin(), json_outputs.end(), t.name) != json_outputs.end()) as_binary = false;
    if (as_binary) {
      o["parameters"]["binary_data_size"] = t.data.size();
      binary += t.data;
    } else {
      o["data"] = RawToJson(t);
    }
    j["outputs"].push_back(std::move(o));
  }
  EncodedResponse out;
  out.body = Dump(j);
  if (!binary.empty()) {
    out.header_length = out.body.size();
    out.body += binary;
  }
  return out;
}

namespace {

absl::StatusOr<json> OptionalBody(std::string_view body, std::string_view what) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  return ParseJsonObject(body, what);
}

absl::StatusOr<json> BodyParameters(std::string_view body, std::string_view what) {
  auto j = OptionalBody(body, what);
  if (!j.ok()) return j.status();
  for (auto it = j->begin(); it != j->end(); ++it) {
    if (it.key() != "parameters") {
      return absl::InvalidArgumentError(
          ToValidUtf8(absl::StrCat(std::string(what), ": unexpected field '", it.key(), "'")));
    }
  }
  if (!j->contains("parameters")) return json::object();
  if (!(*j)["parameters"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), ": 'parameters' must be an object"));
  }
  return (*j)["parameters"];
}

}  // namespace

absl::StatusOr<serving::ModelLoadOverrides> ParseLoadRequest(std::string_view body) {
  auto params = BodyParameters(body, "model load request");
  if (!params.ok()) return params.status();
  serving::ModelLoadOverrides o;
  for (auto it = params->begin(); it != params->end(); ++it) {
    const std::string& key = it.key();
    if (key == "config") {
      if (!it->is_string()) return absl::InvalidArgumentError("load parameter 'config' must be a string of JSON");
      o.config_json = it->get<std::string>();
    } else if (key.rfind("file:", 0) == 0) {
      std::string contents;
      if (!it->is_string() || !absl::Base64Unescape(it->get<std::string>(), &contents)) {
        return absl::InvalidArgumentError(ToValidUtf8(absl::StrCat("load parameter '", key, "' must be base64")));
      }
      o.files[key.substr(5)] = std::move(contents);
    } else {
      return absl::InvalidArgumentError(
          ToValidUtf8(absl::StrCat("unsupported load parameter '", key, "' (supported: 'config' and 'file:<path>')")));
    }
  }
  return o;
}

absl::Status ParseUnloadRequest(std::string_view body) {
  auto params = BodyParameters(body, "model unload request");
  if (!params.ok()) return params.status();
  for (auto it = params->begin(); it != params->end(); ++it) {
    if (it.key() == "unload_dependents" && it->is_boolean() && !it->get<bool>()) continue;
    return absl::InvalidArgumentError(ToValidUtf8(
        absl::StrCat("unsupported unload parameter '", it.key(), "' (only unload_dependents: false is supported)")));
  }
  return absl::OkStatus();
}

std::string MetadataJson(const serving::ModelMetadata& md) {
  json j;
  j["name"] = md.name;
  j["versions"] = md.versions;
  j["platform"] = md.platform;
  auto tensors = [](const std::vector<serving::TensorMetadata>& ts) {
    json a = json::array();
    for (const auto& t : ts) a.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
    return a;
  };
  j["inputs"] = tensors(md.inputs);
  j["outputs"] = tensors(md.outputs);
  return Dump(j);
}

std::string ServerMetadataJson() {
  json j;
  j["name"] = "imagen";
  j["version"] = kVersion;
  j["extensions"] = {"binary_tensor_data",   "statistics", "model_repository", "model_configuration",
                     "system_shared_memory", "trace",      "logging"};
  return Dump(j);
}

std::string StatisticsJson(const std::vector<serving::ModelStatsSnapshot>& stats) {
  auto dur = [](const serving::Duration& d) { return json{{"count", d.count}, {"ns", d.ns}}; };
  json arr = json::array();
  for (const auto& s : stats) {
    json m;
    m["name"] = s.name;
    m["version"] = s.version;
    m["last_inference"] = s.last_inference_ms;
    m["inference_count"] = s.inference_count;
    m["execution_count"] = s.execution_count;
    m["inference_stats"] = {{"success", dur(s.success)},
                            {"fail", dur(s.fail)},
                            {"queue", dur(s.queue)},
                            {"compute_input", dur(s.compute_input)},
                            {"compute_infer", dur(s.compute_infer)},
                            {"compute_output", dur(s.compute_output)}};
    m["batch_stats"] = json::array();
    for (const auto& [size, b] : s.batch_stats) {
      m["batch_stats"].push_back({{"batch_size", size},
                                  {"compute_input", dur(b.compute_input)},
                                  {"compute_infer", dur(b.compute_infer)},
                                  {"compute_output", dur(b.compute_output)}});
    }
    arr.push_back(std::move(m));
  }
  return Dump(json{{"model_stats", arr}});
}

std::string IndexJson(const std::vector<serving::ModelIndexEntry>& index) {
  json arr = json::array();
  for (const auto& e : index) {
    json m{{"name", e.name}};
    if (!e.version.empty()) m["version"] = e.version;
    if (!e.state.empty()) m["state"] = e.state;
    if (!e.reason.empty()) m["reason"] = e.reason;
    arr.push_back(std::move(m));
  }
  return Dump(arr);
}

std::string ConfigJson(const inference::ModelConfig& config) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(config, &out, options);
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded()) return out;
  FixInts(j, false);
  return Dump(j);
}

std::string ErrorJson(const std::string& message) { return Dump(json{{"error", ToValidUtf8(message)}}); }

}  // namespace imagen::frontends
