// Small OpenSSL wrappers used by the job platform: SHA-256 (content addresses,
// key hashes), HMAC-SHA256 (webhook signatures), base64 and random tokens.
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace imagen::jobs {

// Lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Base64Encode(std::string_view data);
// Standard (not URL-safe) base64; fails on malformed input.
absl::StatusOr<std::string> Base64Decode(std::string_view data);
// `prefix` followed by `bytes` random bytes from the CSPRNG in base64url.
std::string RandomToken(std::string_view prefix, int bytes);
// `prefix` followed by `bytes` random bytes in lowercase hex.
std::string RandomHexId(std::string_view prefix, int bytes);

}  // namespace imagen::jobs
