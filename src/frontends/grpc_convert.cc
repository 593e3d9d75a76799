#include "frontends/grpc_convert.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace imagen::frontends {
namespace {

template <typename T, typename Repeated>
std::string Pack(const Repeated& values) {
  std::string out(static_cast<size_t>(values.size()) * sizeof(T), '\0');
  for (int i = 0; i < values.size(); ++i) {
    T v = static_cast<T>(values.Get(i));
    std::memcpy(out.data() + static_cast<size_t>(i) * sizeof(T), &v, sizeof(T));
  }
  return out;
}

// Typed contents -> raw little-endian bytes, per the tensor's datatype.
absl::StatusOr<std::string> ContentsToRaw(const std::string& dt, const inference::InferTensorContents& c) {
  if (dt == "FP32") return Pack<float>(c.fp32_contents());
  if (dt == "FP64") return Pack<double>(c.fp64_contents());
  if (dt == "INT32") return Pack<int32_t>(c.int_contents());
  if (dt == "INT16") return Pack<int16_t>(c.int_contents());
  if (dt == "INT8") return Pack<int8_t>(c.int_contents());
  if (dt == "INT64") return Pack<int64_t>(c.int64_contents());
  if (dt == "UINT8") return Pack<uint8_t>(c.uint_contents());
  if (dt == "UINT16") return Pack<uint16_t>(c.uint_contents());
  if (dt == "UINT32") return Pack<uint32_t>(c.uint_contents());
  if (dt == "UINT64") return Pack<uint64_t>(c.uint64_contents());
  if (dt == "BOOL") return Pack<uint8_t>(c.bool_contents());
  if (dt == "BYTES") {
    std::string out;
    for (const auto& s : c.bytes_contents()) {
      uint32_t n = static_cast<uint32_t>(s.size());
      out.append(reinterpret_cast<const char*>(&n), 4);
      out += s;
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported datatype '", dt, "' in typed contents"));
}

bool IntParam(const google::protobuf::Map<std::string, inference::InferParameter>& params, const std::string& key,
              uint64_t* out) {
  auto it = params.find(key);
  if (it == params.end()) return false;
  const auto& p = it->second;
  if (p.has_int64_param()) {
    *out = static_cast<uint64_t>(std::max<int64_t>(0, p.int64_param()));
  } else if (p.has_uint64_param()) {
    *out = p.uint64_param();
  } else {
    return false;
  }
  return true;
}

struct ShmParams {
  std::string region;  // empty: none given
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// A tensor's shared_memory_region (string) / _byte_size / _offset (int64 or
// uint64) parameters: region and byte size go together, offset defaults to 0.
absl::Status ReadShmParams(const google::protobuf::Map<std::string, inference::InferParameter>& params,
                           const char* what, const std::string& tensor, ShmParams* out) {
  auto region = params.find("shared_memory_region");
  bool has_size = params.count("shared_memory_byte_size") > 0;
  if (region == params.end() && !has_size) return absl::OkStatus();
  if (region == params.end() || !has_size || !region->second.has_string_param() ||
      region->second.string_param().empty() || !IntParam(params, "shared_memory_byte_size", &out->byte_size)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", tensor,
                                                   "': shared memory needs both shared_memory_region (string_param) "
                                                   "and shared_memory_byte_size (int64_param)"));
  }
  if (params.count("shared_memory_offset") > 0 && !IntParam(params, "shared_memory_offset", &out->offset)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", tensor, "': shared_memory_offset must be an int64_param"));
  }
  out->region = region->second.string_param();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<serving::InferRequest> FromProto(const inference::ModelInferRequest& in) {
  inference::ModelInferRequest copy = in;
  return FromProto(&copy);
}

absl::StatusOr<serving::InferRequest> FromProto(inference::ModelInferRequest* mutable_in,
                                                const serving::SharedMemoryManager* shm,
                                                serving::SharedMemoryOutputs* shm_outputs) {
  const inference::ModelInferRequest& in = *mutable_in;
  serving::InferRequest r;
  r.model_name = in.model_name();
  r.model_version = in.model_version();
  r.id = in.id();
  IntParam(in.parameters(), "priority", &r.priority);
  IntParam(in.parameters(), "timeout", &r.timeout_us);
  // raw_input_contents holds one entry per input not in shared memory.
  std::vector<ShmParams> shm_in(static_cast<size_t>(in.inputs_size()));
  int plain = 0;
  for (int i = 0; i < in.inputs_size(); ++i) {
    const auto& t = in.inputs(i);
    if (absl::Status s = ReadShmParams(t.parameters(), "input", t.name(), &shm_in[static_cast<size_t>(i)]); !s.ok()) {
      return s;
    }
    if (shm_in[static_cast<size_t>(i)].region.empty()) ++plain;
  }
  bool raw = in.raw_input_contents_size() > 0;
  if (raw && in.raw_input_contents_size() != plain) {
    return absl::InvalidArgumentError(absl::StrCat("expected ", plain,
                                                   " raw_input_contents (one per input not in shared memory), got ",
                                                   in.raw_input_contents_size()));
  }
  int raw_index = 0;
  for (int i = 0; i < in.inputs_size(); ++i) {
    const auto& t = in.inputs(i);
    serving::Tensor tensor;
    tensor.name = t.name();
    tensor.datatype = t.datatype();
    tensor.shape.assign(t.shape().begin(), t.shape().end());
    if (serving::DataTypeFromName(t.datatype()) == inference::TYPE_INVALID) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid datatype '", t.datatype(), "' for input '", t.name(), "'"));
    }
    const ShmParams& p = shm_in[static_cast<size_t>(i)];
    if (!p.region.empty()) {
      if (t.has_contents()) {
        return absl::InvalidArgumentError(
            absl::StrCat("input '", t.name(), "' has shared_memory_region and also contents; give one"));
      }
      if (shm == nullptr) return absl::InvalidArgumentError("shared memory is not enabled on this endpoint");
      absl::Status s = serving::ReadSharedMemoryInput(*shm, p.region, p.offset, p.byte_size, &tensor);
      if (!s.ok()) return s;
    } else if (raw) {
      if (t.has_contents()) {
        return absl::InvalidArgumentError(
            absl::StrCat("contents field must not be specified when using raw_input_contents for '", t.name(), "'"));
      }
      tensor.data = std::move(*mutable_in->mutable_raw_input_contents(raw_index++));
    } else {
      auto data = ContentsToRaw(t.datatype(), t.contents());
      if (!data.ok()) return data.status();
      tensor.data = std::move(*data);
    }
    r.inputs.push_back(std::move(tensor));
  }
  for (const auto& o : in.outputs()) {
    r.outputs.push_back(o.name());
    ShmParams shm_out;
    if (absl::Status s = ReadShmParams(o.parameters(), "output", o.name(), &shm_out); !s.ok()) return s;
    if (shm_out.region.empty()) continue;
    if (shm == nullptr || shm_outputs == nullptr) {
      return absl::InvalidArgumentError("shared memory is not enabled on this endpoint");
    }
    auto ref = shm->Resolve(o.name(), shm_out.region, shm_out.offset, shm_out.byte_size);
    if (!ref.ok()) return ref.status();
    (*shm_outputs)[o.name()] = std::move(*ref);
  }
  return r;
}

void ToProto(const serving::InferRequest& in, inference::ModelInferRequest* out) {
  out->set_model_name(in.model_name);
  out->set_model_version(in.model_version);
  out->set_id(in.id);
  if (in.priority > 0) (*out->mutable_parameters())["priority"].set_uint64_param(in.priority);
  if (in.timeout_us > 0) (*out->mutable_parameters())["timeout"].set_int64_param(static_cast<int64_t>(in.timeout_us));
  for (const auto& t : in.inputs) {
    auto* x = out->add_inputs();
    x->set_name(t.name);
    x->set_datatype(t.datatype);
    for (int64_t d : t.shape) x->add_shape(d);
    out->add_raw_input_contents(t.data);
  }
  for (const auto& o : in.outputs) out->add_outputs()->set_name(o);
}

void ToProto(serving::InferResponse in, inference::ModelInferResponse* out,
             const serving::SharedMemoryOutputs* shm_outputs) {
  out->set_model_name(ToValidUtf8(in.model_name));  // proto3 strings must be UTF-8
  out->set_model_version(std::move(in.model_version));
  out->set_id(std::move(in.id));
  for (auto& t : in.outputs) {
    auto* x = out->add_outputs();
    x->set_name(std::move(t.name));
    x->set_datatype(std::move(t.datatype));
    for (int64_t d : t.shape) x->add_shape(d);
    if (shm_outputs != nullptr) {
      if (auto it = shm_outputs->find(x->name()); it != shm_outputs->end()) {  // the data is in the region
        auto& p = *x->mutable_parameters();
        p["shared_memory_region"].set_string_param(it->second.region->name());
        p["shared_memory_byte_size"].set_int64_param(static_cast<int64_t>(t.data.size()));
        if (it->second.offset != 0) p["shared_memory_offset"].set_int64_param(static_cast<int64_t>(it->second.offset));
        out->add_raw_output_contents();  // keeps raw_output_contents aligned with outputs
        continue;
      }
    }
    out->add_raw_output_contents(std::move(t.data));
  }
}

absl::StatusOr<serving::InferResponse> FromProto(inference::ModelInferResponse* in) {
  serving::InferResponse r;
  r.model_name = in->model_name();
  r.model_version = in->model_version();
  r.id = in->id();
  bool raw = in->raw_output_contents_size() > 0;
  for (int i = 0; i < in->outputs_size(); ++i) {
    auto* t = in->mutable_outputs(i);
    serving::Tensor tensor;
    tensor.name = t->name();
    tensor.datatype = t->datatype();
    tensor.shape.assign(t->shape().begin(), t->shape().end());
    if (raw) {
      if (i >= in->raw_output_contents_size()) return absl::InternalError("response lacks raw_output_contents");
      tensor.data = std::move(*in->mutable_raw_output_contents(i));
    } else {
      auto data = ContentsToRaw(t->datatype(), t->contents());
      if (!data.ok()) return data.status();
      tensor.data = std::move(*data);
    }
    r.outputs.push_back(std::move(tensor));
  }
  return r;
}

void ToProto(const serving::ModelMetadata& in, inference::ModelMetadataResponse* out) {
  out->set_name(ToValidUtf8(in.name));
  for (const auto& v : in.versions) out->add_versions(v);
  out->set_platform(in.platform);
  for (const auto& t : in.inputs) {
    auto* x = out->add_inputs();
    x->set_name(t.name);
    x->set_datatype(t.datatype);
    for (int64_t d : t.shape) x->add_shape(d);
  }
  for (const auto& t : in.outputs) {
    auto* x = out->add_outputs();
    x->set_name(t.name);
    x->set_datatype(t.datatype);
    for (int64_t d : t.shape) x->add_shape(d);
  }
}

void ToProto(const serving::ModelStatsSnapshot& in, inference::ModelStatistics* out) {
  auto dur = [](const serving::Duration& d, inference::StatisticDuration* p) {
    p->set_count(d.count);
    p->set_ns(d.ns);
  };
  out->set_name(ToValidUtf8(in.name));
  out->set_version(in.version);
  out->set_last_inference(in.last_inference_ms);
  out->set_inference_count(in.inference_count);
  out->set_execution_count(in.execution_count);
  auto* s = out->mutable_inference_stats();
  dur(in.success, s->mutable_success());
  dur(in.fail, s->mutable_fail());
  dur(in.queue, s->mutable_queue());
  dur(in.compute_input, s->mutable_compute_input());
  dur(in.compute_infer, s->mutable_compute_infer());
  dur(in.compute_output, s->mutable_compute_output());
  for (const auto& [size, b] : in.batch_stats) {
    auto* x = out->add_batch_stats();
    x->set_batch_size(size);
    dur(b.compute_input, x->mutable_compute_input());
    dur(b.compute_infer, x->mutable_compute_infer());
    dur(b.compute_output, x->mutable_compute_output());
  }
}

}  // namespace imagen::frontends
