#include "imaging/vips_runtime.h"

#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/string_view.h"
#include "spdlog/spdlog.h"

namespace imagen::imaging {

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
    // libvips warns on stderr about every odd input ("not enough data",
    // "CRC error"); the caller gets the error as a Status, so keep those
    // at debug level in imagen's log.
    g_log_set_handler(
        "VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO),
        [](const gchar*, GLogLevelFlags, const gchar* message, gpointer) { spdlog::debug("libvips: {}", message); },
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

absl::Status VipsError(absl::StatusCode code, const std::string& what, const std::string& detail) {
  std::string msg = absl::StrReplaceAll(detail, {{"\n", "; "}});
  absl::string_view trimmed = ToAbsl(msg);
  while (absl::ConsumeSuffix(&trimmed, "; ") || absl::ConsumeSuffix(&trimmed, " ")) {
  }
  vips_error_clear();
  if (trimmed.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, ": ", trimmed));
}

}  // namespace imagen::imaging
