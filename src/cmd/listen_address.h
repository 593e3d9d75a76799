// Parses "HOST:PORT" listen addresses ("[::1]:8080" for IPv6).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace imagen {

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};

absl::StatusOr<ListenAddress> ParseListenAddress(const std::string& text);

}  // namespace imagen
