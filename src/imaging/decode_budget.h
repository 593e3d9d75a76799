// Admission of image decodes by memory: a process-wide budget of bytes that
// decodes in flight may hold (each reserves its predicted peak before its
// first pixel, waits while others hold the rest, and is refused outright
// when it alone exceeds the budget), and a sanity floor of encoded bytes per
// pixel that refuses headers claiming far more pixels than their data could
// hold (a 690-byte JPEG claiming 6000 x 6000). Thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace imagen::imaging {

class DecodeBudget {
 public:
  // Frees its bytes when destroyed. Movable.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation();
    int64_t bytes() const { return bytes_; }

   private:
    friend class DecodeBudget;
    Reservation(DecodeBudget* budget, int64_t bytes) : budget_(budget), bytes_(bytes) {}
    DecodeBudget* budget_ = nullptr;
    int64_t bytes_ = 0;
  };

  explicit DecodeBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}

  // The budget every DecodeImage draws from: 1 GiB unless set (`imagen
  // serve` may size it from configuration before the workers start).
  static DecodeBudget& Global();

  // Waits until `bytes` are free and takes them. InvalidArgument (never
  // retried: the image will not fit later either) when `bytes` exceeds the
  // whole capacity.
  absl::StatusOr<Reservation> Reserve(int64_t bytes);

  void SetCapacity(int64_t bytes);
  int64_t capacity() const;
  int64_t in_use() const;

 private:
  void Release(int64_t bytes);

  mutable absl::Mutex mu_;
  int64_t capacity_ ABSL_GUARDED_BY(mu_);
  int64_t in_use_ ABSL_GUARDED_BY(mu_) = 0;
};

// Predicted peak bytes of decoding a width x height image with `bands`
// samples of `sample_bytes` each to 8-bit sRGB(A): the loader's pixels plus
// the converted 4-band copy.
int64_t DecodeCostBytes(int64_t width, int64_t height, int bands, int sample_bytes);

// Fewest pixels one encoded byte can honestly carry, per format: a header
// claiming more is refused as a decode bomb. Floors, with margin, of what
// the format's coder can reach on a flat image:
//   jpeg 4096 px/byte: Huffman DC needs >= 1 bit per 8x8 block, so a grey
//        JPEG is >= 1 byte per 512 px (x8 margin for arithmetic coding);
//   png 16384 px/byte: deflate tops out near 1032:1 on 1-bit rows, i.e.
//        ~8256 px/byte (x2 margin);
//   gif 8192 px/byte: LZW codes reach ~2730 px per 1.5 bytes (x4 margin).
// WebP, TIFF, HEIF and JPEG XL have no such floor (a flat lossy WebP of
// 16383 x 16383 fits in a few KB) and rely on the pixel limit and the
// decode budget. 0 for "no floor".
int64_t MaxPixelsPerByte(std::string_view format);

// InvalidArgument when a `format` file of `encoded_bytes` claims more pixels
// than MaxPixelsPerByte allows.
absl::Status CheckPixelsPerByte(std::string_view format, int64_t encoded_bytes, int64_t pixels);

}  // namespace imagen::imaging
