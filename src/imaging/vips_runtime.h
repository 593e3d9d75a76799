// The one adapter between libvips and imagen: initialises libvips once per
// process and turns libvips errors (vips::VError, the vips error buffer) into
// absl::Status. Thread-safe.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "vips/vips8"

namespace imagen::imaging {

// Calls VIPS_INIT once per process (later calls return the first result).
absl::Status EnsureVips();

// A new image owning a copy of `data` (VImage::new_from_memory only borrows
// it, and copy_memory() of a memory image is the same borrowed image).
// Throws vips::VError; call inside VipsTry.
vips::VImage ImageFromMemoryCopy(const void* data, size_t size, int width, int height, int bands,
                                 VipsBandFormat format);

// Status for a libvips failure while doing `what`. libvips reports bad input
// data (truncated, corrupt) and internal trouble alike, so the caller says
// which code fits; `detail` is the libvips message, trimmed.
absl::Status VipsError(absl::StatusCode code, const std::string& what, const std::string& detail);

// Runs `fn` (which may throw vips::VError) and returns its result, or
// `code` with a message "<what>: <libvips message>".
template <typename Fn>
auto VipsTry(absl::StatusCode code, const std::string& what, Fn&& fn) -> absl::StatusOr<decltype(fn())> {
  try {
    return std::forward<Fn>(fn)();
  } catch (const vips::VError& e) {
    return VipsError(code, what, e.what());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(what + ": out of memory");
  }
}

// Same for a function returning void.
template <typename Fn>
absl::Status VipsTryVoid(absl::StatusCode code, const std::string& what, Fn&& fn) {
  try {
    std::forward<Fn>(fn)();
    return absl::OkStatus();
  } catch (const vips::VError& e) {
    return VipsError(code, what, e.what());
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(what + ": out of memory");
  }
}

}  // namespace imagen::imaging
