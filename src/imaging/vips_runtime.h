// The one adapter between libvips and imagen: initialises libvips once per
// process (with its process-wide error buffer frozen) and turns libvips
// failures (vips::VError) into absl::Status with imagen's own, fixed text.
// Thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
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

// Test seam for races on libvips's process-wide state: `hook` runs on the
// calling thread at points where an interleaving matters: `event` is
// "decode" when DecodeImage starts decoding pixels (header read), else the
// step that just failed, before imagen turns it into a Status (e.g.
// "icc_transform", or VipsTry's `what`). An empty function removes it.
// Tests only.
void SetVipsHookForTesting(std::function<void(std::string_view event)> hook);
// Calls the hook, if any (the adapter and codec.cc call this).
void RunVipsHook(std::string_view event);

// Status for a libvips failure while doing `what`. libvips reports bad input
// data (truncated, corrupt) and internal trouble alike, so the caller says
// which code fits. The message is `what` (for InvalidArgument, which callers
// word for the user) or "<what> failed in libvips": never libvips's own
// text, which lives in a process-wide buffer (see EnsureVips) and may quote
// upload bytes.
absl::Status VipsError(absl::StatusCode code, const std::string& what);

// Runs `fn` (which may throw vips::VError) and returns its result, or
// VipsError(code, what).
template <typename Fn>
auto VipsTry(absl::StatusCode code, const std::string& what, Fn&& fn) -> absl::StatusOr<decltype(fn())> {
  try {
    return std::forward<Fn>(fn)();
  } catch (const vips::VError&) {
    return VipsError(code, what);
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
  } catch (const vips::VError&) {
    return VipsError(code, what);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(what + ": out of memory");
  }
}

}  // namespace imagen::imaging
