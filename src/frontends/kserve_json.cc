#include "frontends/kserve_json.h"

#include <cstring>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "google/protobuf/util/json_util.h"
#include "nlohmann/json.hpp"

namespace imagen::frontends {
namespace {

using json = nlohmann::json;

void Flatten(const json& j, std::vector<const json*>* out) {
  if (j.is_array()) {
    for (const auto& x : j) Flatten(x, out);
  } else {
    out->push_back(&j);
  }
}

template <typename T>
absl::Status AppendNumbers(const std::vector<const json*>& values, const std::string& name, std::string* out) {
  out->reserve(values.size() * sizeof(T));
  for (const json* v : values) {
    T x;
    if (v->is_number()) {
      x = v->get<T>();
    } else if (v->is_boolean()) {
      x = static_cast<T>(v->get<bool>());
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unable to parse 'data' of input '", name, "': expected numbers"));
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

bool ParamInt(const json& params, const char* key, uint64_t* out) {
  if (!params.is_object() || !params.contains(key)) return false;
  const json& v = params[key];
  if (!v.is_number_integer() || v.get<int64_t>() < 0) return false;
  *out = v.get<uint64_t>();
  return true;
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

}  // namespace

absl::StatusOr<serving::InferRequest> ParseInferRequest(const std::string& body, std::optional<size_t> header_length,
                                                        const std::string& model, const std::string& version,
                                                        bool* binary_outputs_default,
                                                        std::vector<std::string>* binary_outputs,
                                                        std::vector<std::string>* json_outputs) {
  size_t json_len = header_length.value_or(body.size());
  if (json_len > body.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Inference-Header-Content-Length ", json_len, " exceeds the body size ", body.size()));
  }
  json j = json::parse(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(json_len), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("failed to parse the request JSON buffer: not a valid JSON object");
  }
  serving::InferRequest r;
  r.model_name = model;
  r.model_version = version;
  if (j.contains("id") && j["id"].is_string()) r.id = j["id"].get<std::string>();
  *binary_outputs_default = false;
  if (j.contains("parameters")) {
    const json& p = j["parameters"];
    ParamInt(p, "priority", &r.priority);
    ParamInt(p, "timeout", &r.timeout_us);
    if (p.is_object() && p.contains("binary_data_output") && p["binary_data_output"].is_boolean()) {
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
      if (!d.is_number_integer())
        return absl::InvalidArgumentError(absl::StrCat("invalid shape for input '", t.name, "'"));
      t.shape.push_back(d.get<int64_t>());
    }
    uint64_t binary_size = 0;
    if (in.contains("parameters") && ParamInt(in["parameters"], "binary_data_size", &binary_size)) {
      if (offset + binary_size > body.size()) {
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
      if (out.contains("parameters") && out["parameters"].is_object() && out["parameters"].contains("binary_data") &&
          out["parameters"]["binary_data"].is_boolean()) {
        (out["parameters"]["binary_data"].get<bool>() ? binary_outputs : json_outputs)->push_back(name);
      }
    }
  }
  return r;
}

EncodedResponse EncodeInferResponse(const serving::InferResponse& response, bool binary_default,
                                    const std::vector<std::string>& binary_outputs,
                                    const std::vector<std::string>& json_outputs) {
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
  out.body = j.dump();
  if (!binary.empty()) {
    out.header_length = out.body.size();
    out.body += binary;
  }
  return out;
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
  return j.dump();
}

std::string ServerMetadataJson() {
  json j;
  j["name"] = "imagen";
  j["version"] = kVersion;
  j["extensions"] = {"binary_tensor_data", "statistics", "model_repository", "model_configuration"};
  return j.dump();
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
  return json{{"model_stats", arr}}.dump();
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
  return arr.dump();
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
  return j.dump();
}

std::string ErrorJson(const std::string& message) { return json{{"error", message}}.dump(); }

}  // namespace imagen::frontends
