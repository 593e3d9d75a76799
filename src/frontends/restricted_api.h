// Triton's restricted protocol groups (--http-restricted-api,
// --grpc-restricted-protocol): "<group>[,<group>...]:<header key>=<value>"
// puts the groups' endpoints behind a header. A request to a restricted
// group without the header (or with another value) is refused: HTTP 403
// {"error":"This API is restricted, expecting header '<key>'"}, gRPC
// UNAVAILABLE "This protocol is restricted, expecting header
// 'triton-grpc-protocol-<key>'" (over gRPC the metadata key is the key in
// lower case behind Triton's prefix, see ForGrpc).
// Value type; thread-safe once built.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace imagen::frontends {

enum class ApiGroup {
  kHealth,
  kMetadata,
  kInference,
  kSharedMemory,
  kModelConfig,
  kModelRepository,
  kStatistics,
  kTrace,
  kLogging,
};
inline constexpr int kApiGroupCount = 9;
const char* ApiGroupName(ApiGroup g);

struct Restriction {
  std::string key;  // header name (gRPC: metadata key, lower case)
  std::string value;
};

class RestrictedApis {
 public:
  // Adds one flag value; InvalidArgument for an unknown group, a missing key
  // or a group already restricted.
  absl::Status Add(std::string_view spec);
  // nullptr when `g` is open to everyone.
  const Restriction* Find(ApiGroup g) const;
  // OK when `g` is open or `header` (the request's value for the key, if
  // any) matches; else PermissionDenied with Triton's HTTP message.
  absl::Status CheckHttp(ApiGroup g, std::optional<std::string_view> header) const;
  // The same groups with each key as gRPC metadata carries it, as Triton
  // does: "triton-grpc-protocol-" + the key in lower case.
  RestrictedApis ForGrpc() const;

 private:
  std::array<std::optional<Restriction>, kApiGroupCount> groups_;
};

}  // namespace imagen::frontends
