// Debian's abseil is built with its own absl::string_view (not an alias of
// std::string_view), so the two do not convert implicitly. These adapters
// are the one place that bridges them.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"
#include "fmt/format.h"

namespace imagen {

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace imagen

// Lets fmt / spdlog print absl::string_view (e.g. Status::message()).
template <>
struct fmt::formatter<absl::string_view> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(absl::string_view s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(std::string_view(s.data(), s.size()), ctx);
  }
};
