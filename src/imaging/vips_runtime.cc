#include "imaging/vips_runtime.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/utf8.h"
#include "spdlog/spdlog.h"

namespace imagen::imaging {
namespace {

absl::Mutex hook_mu;
std::function<void(std::string_view)>* failure_hook ABSL_GUARDED_BY(hook_mu) = nullptr;

}  // namespace

void SetVipsHookForTesting(std::function<void(std::string_view step)> hook) {
  absl::MutexLock lock(&hook_mu);
  delete failure_hook;
  failure_hook = hook ? new std::function<void(std::string_view)>(std::move(hook)) : nullptr;
}

void RunVipsHook(std::string_view step) {
  std::function<void(std::string_view)> hook;
  {
    absl::MutexLock lock(&hook_mu);
    if (failure_hook == nullptr) return;
    hook = *failure_hook;
  }
  hook(step);
}

absl::Status EnsureVips() {
  static std::once_flag once;
  static absl::Status status;
  std::call_once(once, [] {
    if (VIPS_INIT("imagen") != 0) {
      status = absl::InternalError(absl::StrCat("libvips failed to start: ", vips_error_buffer()));
      vips_error_clear();
      return;
    }
    // Operations run on many worker threads; libvips's own pool adds its
    // threads per pipeline. The operation cache only helps repeated calls on
    // the same file, which a server never makes.
    vips_cache_set_max(0);
    // libvips keeps one error buffer per process: what one thread's failure
    // puts there (lcms quotes raw ICC profile bytes from the upload) is read
    // by whichever thread fails next, another tenant's job included, as its
    // own error. Freeze it for good: libvips then records nothing, and
    // imagen's errors say what failed from what imagen knows (VipsError).
    vips_error_clear();
    vips_error_freeze();
    // libvips warns on stderr about every odd input ("not enough data",
    // "CRC error"); the caller gets the error as a Status, so keep those
    // at debug level in imagen's log. They may quote upload bytes: the log
    // gets them as valid UTF-8.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) {
          spdlog::debug("libvips: {}", ToValidUtf8(message != nullptr ? message : ""));
        },
        nullptr);
  });
  return status;
}

vips::VImage ImageFromMemoryCopy(const void* data, size_t size, int width, int height, int bands,
                                 VipsBandFormat format) {
  VipsImage* image = vips_image_new_from_memory_copy(data, size, width, height, bands, format);
  if (image == nullptr) throw vips::VError();
  return vips::VImage(image);
}

absl::Status VipsError(absl::StatusCode code, const std::string& what) {
  RunVipsHook(what);
  if (code == absl::StatusCode::kInvalidArgument) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, " failed in libvips"));
}

}  // namespace imagen::imaging
