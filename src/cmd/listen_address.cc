#include "cmd/listen_address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace imagen {

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad listen address '", text, "': ", why, " (want HOST:PORT)"));
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return bad("no port");
  ListenAddress out;
  out.host = text.substr(0, colon);
  if (out.host.front() == '[') {
    if (out.host.back() != ']') return bad("unbalanced brackets");
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  uint32_t port;
  if (!absl::SimpleAtoi(text.substr(colon + 1), &port) || port > 65535) return bad("port must be 0-65535");
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace imagen
