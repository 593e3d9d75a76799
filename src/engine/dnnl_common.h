// Shared plumbing of the oneDNN kernels: the CPU engine, the opaque layout
// that lets a tensor stay in oneDNN's blocked format between primitives,
// conversions between Tensor and dnnl::memory, and dnnl::error → Status.
// Thread-safe: the engine is created once; helpers are pure.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kernel.h"
#include "engine/tensor.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace imagen::engine::dnnl_util {

// The process-wide CPU engine.
const dnnl::engine& Engine();

// A tensor whose bytes follow `desc` (e.g. nChw16c). ToPlain reorders to the
// row-major (abcd) layout of the same dims and element type.
class DnnlLayout : public OpaqueLayout {
 public:
  explicit DnnlLayout(dnnl::memory::desc desc) : desc_(std::move(desc)) {}
  std::string_view backend() const override { return "dnnl"; }
  absl::StatusOr<Tensor> ToPlain(const Tensor& in) const override;
  const dnnl::memory::desc& desc() const { return desc_; }

 private:
  dnnl::memory::desc desc_;
};

dnnl::memory::dims ToDims(const Shape& shape);
// Row-major descriptor of the given dims (tag a, ab, abc, abcd, abcde).
dnnl::memory::desc PlainDesc(const dnnl::memory::dims& dims, dnnl::memory::data_type dt);
// The descriptor a tensor's bytes follow: its DnnlLayout's, or row-major.
// Error for layouts of other backends and non-f32 types.
absl::StatusOr<dnnl::memory::desc> DescOf(const Tensor& t);
// A memory object over the tensor's buffer (no copy).
absl::StatusOr<dnnl::memory> MemoryOf(const Tensor& t);

// A fresh output tensor whose bytes follow `desc` with the given logical
// shape: plain if `desc` is row-major, else carrying a DnnlLayout.
Tensor NewTensor(const dnnl::memory::desc& desc, const Shape& shape, RunContext& ctx);

// `t` as memory in layout `want`: the tensor itself when it already matches,
// else a reorder into a new buffer (kept alive by *keep).
absl::StatusOr<dnnl::memory> AsLayout(const Tensor& t, const dnnl::memory::desc& want, dnnl::stream& s, Tensor* keep,
                                      RunContext& ctx);

// Runs `fn`, translating oneDNN exceptions into a Status naming `what`.
template <typename Fn>
absl::Status Guard(const std::string& what, Fn&& fn) {
  try {
    return fn();
  } catch (const dnnl::error& e) {
    return absl::InternalError(what + ": oneDNN error: " + e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(what + ": " + e.what());
  }
}

}  // namespace imagen::engine::dnnl_util
