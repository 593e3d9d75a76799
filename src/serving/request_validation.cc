#include "serving/request_validation.h"

#include <algorithm>
#include <functional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace imagen::serving {
namespace {

bool ShapeMatches(const std::vector<int64_t>& expected, const std::vector<int64_t>& got) {
  if (expected.size() != got.size()) return false;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] < 0) return false;
    if (expected[i] != -1 && expected[i] != got[i]) return false;
  }
  return true;
}

// The cap on the product of the dimensions a config leaves dynamic (-1;
// the batch dimension excluded): "pixels" for an image model [1,3,-1,-1].
uint64_t MaxPixels(const inference::ModelConfig& config) {
  auto it = config.parameters().find("max_pixels");
  uint64_t v;
  if (it != config.parameters().end() && absl::SimpleAtoi(it->second.string_value(), &v) && v > 0) return v;
  return kDefaultMaxPixels;
}

void HashCombine(uint64_t* h, uint64_t v) { *h ^= v + 0x9e3779b97f4a7c15ull + (*h << 6) + (*h >> 2); }

}  // namespace

absl::StatusOr<ValidatedRequest> ValidateRequest(const inference::ModelConfig& config, InferRequest* request) {
  const std::string& model = config.name();
  ValidatedRequest v;
  bool batching = config.max_batch_size() > 0;
  int required = 0;
  for (const auto& in : config.input()) required += in.optional() ? 0 : 1;
  for (const auto& t : request->inputs) {
    const inference::ModelInput* spec = nullptr;
    for (const auto& in : config.input()) {
      if (in.name() == t.name) spec = &in;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected inference input '", t.name, "' for model '", model, "'"));
    }
  }
  for (const auto& in : config.input()) {
    bool found = false;
    for (const auto& t : request->inputs) found = found || t.name == in.name();
    if (!found && !in.optional()) {
      return absl::InvalidArgumentError(absl::StrCat("expected ", required, " inputs but got ", request->inputs.size(),
                                                     " inputs for model '", model, "': missing input '", in.name(),
                                                     "'"));
    }
  }
  if (request->inputs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("request for model '", model, "' has no inputs"));
  }
  bool first = true;
  for (const auto& in : config.input()) {
    const Tensor* t = nullptr;
    for (const auto& x : request->inputs) {
      if (x.name == in.name()) t = &x;
    }
    if (t == nullptr) continue;
    inference::DataType got_type = DataTypeFromName(t->datatype);
    if (got_type != in.data_type()) {
      return absl::InvalidArgumentError(absl::StrCat("inference input '", in.name(), "' data-type is '", t->datatype,
                                                     "', but model '", model, "' expects '",
                                                     DataTypeName(in.data_type()), "'"));
    }
    std::vector<int64_t> expected;
    if (batching) expected.push_back(-1);
    expected.insert(expected.end(), in.dims().begin(), in.dims().end());
    if (!ShapeMatches(expected, t->shape)) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected shape for input '", in.name(), "' for model '", model,
                                                     "'. Expected ", ShapeString(expected), ", got ",
                                                     ShapeString(t->shape)));
    }
    if (batching) {
      int64_t rows = t->shape[0];
      if (rows < 1 || rows > config.max_batch_size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("inference request batch-size must be <= ", config.max_batch_size(), " for '", model, "'"));
      }
      if (first) {
        v.batch_size = rows;
      } else if (rows != v.batch_size) {
        return absl::InvalidArgumentError(
            absl::StrCat("inputs of model '", model, "' must all have the same batch size (dim 0)"));
      }
    }
    first = false;
    size_t elem = DataTypeSize(got_type);
    auto want = CheckedByteSize(t->shape, std::max<size_t>(elem, 1));
    if (!want) {
      return absl::InvalidArgumentError(absl::StrCat("shape ", ShapeString(t->shape), " of input '", in.name(),
                                                     "' for model '", model, "' has too many elements"));
    }
    uint64_t pixels = 1;
    for (size_t i = 0; i < expected.size(); ++i) {
      if (expected[i] != -1 || (batching && i == 0)) continue;
      if (__builtin_mul_overflow(pixels, static_cast<uint64_t>(t->shape[i]), &pixels)) pixels = UINT64_MAX;
    }
    if (pixels > MaxPixels(config)) {
      return absl::InvalidArgumentError(absl::StrCat("input '", in.name(), "' of shape ", ShapeString(t->shape),
                                                     " exceeds the pixel cap of model '", model, "' (", pixels,
                                                     " > max_pixels ", MaxPixels(config), ")"));
    }
    if (elem > 0) {
      if (t->data.size() != *want) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected total byte size ", t->data.size(), " for input '",
                                                       in.name(), "', expecting ", *want));
      }
    } else {
      auto count = BytesElementCount(*t);
      if (!count.ok()) return count.status();
      if (*count != *CheckedElementCount(t->shape)) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected number of string elements ", *count, " for input '",
                                                       in.name(), "', expecting ", *CheckedElementCount(t->shape)));
      }
    }
    HashCombine(&v.shape_key, std::hash<std::string>()(in.name()));
    for (size_t i = batching ? 1 : 0; i < t->shape.size(); ++i)
      HashCombine(&v.shape_key, static_cast<uint64_t>(t->shape[i]));
  }
  for (const auto& name : request->outputs) {
    bool found = false;
    for (const auto& out : config.output()) found = found || out.name() == name;
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected inference output '", name, "' for model '", model, "'"));
    }
  }
  return v;
}

}  // namespace imagen::serving
