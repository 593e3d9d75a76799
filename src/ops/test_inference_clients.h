// InferenceClients for tests that compute real, checkable results without
// a model: a nearest-neighbour upscaler (optionally cropping its border like
// a valid-convolution network), and a colour-key mask for a 1024x1024 ISNet
// request. Thread-safe (stateless but for call counters).
#pragma once

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "ops/inference_client.h"

namespace imagen::ops::testing {

// Every request: FP32 [1,3,H,W] in, FP32 [1,3,(H*s-2*crop),(W*s-2*crop)] out,
// nearest-neighbour enlarged by `scale` with `crop` output pixels removed on
// each side (as waifu2x's CUnet does).
class NearestUpscaleClient : public InferenceClient {
 public:
  NearestUpscaleClient(int scale, int crop = 0) : scale_(scale), crop_(crop) {}
  absl::StatusOr<InferResult> Infer(const InferRequest& req) override {
    ++calls;
    if (req.inputs.size() != 1) return absl::InvalidArgumentError("expected one input");
    const Tensor& in = req.inputs[0];
    if (in.shape.size() != 4 || in.shape[1] != 3 || in.datatype != "FP32") {
      return absl::InvalidArgumentError("expected FP32 [1,3,H,W]");
    }
    const int h = static_cast<int>(in.shape[2]), w = static_cast<int>(in.shape[3]);
    max_side = std::max({max_side.load(), h, w});
    const int oh = h * scale_ - 2 * crop_, ow = w * scale_ - 2 * crop_;
    Tensor out{.name = req.outputs.empty() ? "output" : req.outputs[0],
               .datatype = "FP32",
               .shape = {1, 3, oh, ow},
               .data = std::string(static_cast<size_t>(3) * oh * ow * 4, '\0')};
    const auto* src = reinterpret_cast<const float*>(in.data.data());
    auto* dst = reinterpret_cast<float*>(out.data.data());
    for (int c = 0; c < 3; ++c) {
      for (int y = 0; y < oh; ++y) {
        for (int x = 0; x < ow; ++x) {
          const int sy = (y + crop_) / scale_, sx = (x + crop_) / scale_;
          dst[(static_cast<size_t>(c) * oh + y) * ow + x] = src[(static_cast<size_t>(c) * h + sy) * w + sx];
        }
      }
    }
    InferResult r;
    r.outputs.push_back(std::move(out));
    return r;
  }
  absl::Status ModelReady(const std::string&) override { return absl::OkStatus(); }

  std::atomic<int> calls{0};
  std::atomic<int> max_side{0};

 private:
  int scale_;
  int crop_;
};

// For ISNet-shaped requests: mask = 1 where the (de-normalised) pixel is
// strongly red, else 0. De-normalises with IMG.LY's (p - 128) / 256.
class RedKeyMaskClient : public InferenceClient {
 public:
  absl::StatusOr<InferResult> Infer(const InferRequest& req) override {
    if (req.inputs.size() != 1 || req.inputs[0].shape != std::vector<int64_t>{1, 3, 1024, 1024}) {
      return absl::InvalidArgumentError("expected [1,3,1024,1024]");
    }
    const auto* src = reinterpret_cast<const float*>(req.inputs[0].data.data());
    const size_t n = 1024 * 1024;
    Tensor out{.name = "output", .datatype = "FP32", .shape = {1, 1, 1024, 1024}, .data = std::string(n * 4, '\0')};
    auto* dst = reinterpret_cast<float*>(out.data.data());
    for (size_t i = 0; i < n; ++i) {
      const float r = src[i] * 256 + 128, g = src[n + i] * 256 + 128, b = src[2 * n + i] * 256 + 128;
      dst[i] = (r > 160 && g < 100 && b < 100) ? 1.0f : 0.0f;
    }
    InferResult res;
    res.outputs.push_back(std::move(out));
    return res;
  }
  absl::Status ModelReady(const std::string&) override { return absl::OkStatus(); }
};

// Fails every request with `status` (to check error propagation).
class FailingClient : public InferenceClient {
 public:
  explicit FailingClient(absl::Status status) : status_(std::move(status)) {}
  absl::StatusOr<InferResult> Infer(const InferRequest&) override { return status_; }
  absl::Status ModelReady(const std::string&) override { return status_; }

 private:
  absl::Status status_;
};

}  // namespace imagen::ops::testing
