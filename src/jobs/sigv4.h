// AWS Signature Version 4 on OpenSSL: canonical request, string to sign,
// derived key, the Authorization header and presigned (query-string) URLs,
// with S3's rules (each path segment encoded once, no path normalisation).
// Pure functions of their inputs (the signing time is a parameter), so the
// AWS test vectors pin them; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace imagen::jobs {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none (long-term keys)
};

// Name/value pairs; order matters only where the protocol says so (repeated
// header values are joined in the order given).
using KeyValues = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// SHA-256 of the empty string, the payload hash of every body-less request.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Sha256Hex(std::string_view data);
std::string HmacSha256(std::string_view key, std::string_view data);  // raw 32 bytes
std::string HexEncode(std::string_view bytes);                        // lower case

// RFC 3986 percent-encoding as SigV4 wants it: unreserved A-Z a-z 0-9 - . _ ~
// stay, every other byte becomes %XY (upper-case hex); '/' stays only when
// `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);
// S3 canonical URI of a decoded path ("/bucket/a b/ሴ"): each segment encoded
// once, separators and empty or dot segments kept as they are. "" is "/".
// The same string is sent as the request target, so wire and signature agree.
std::string CanonicalUri(std::string_view decoded_path);
// Canonical query of decoded parameters: names and values encoded, sorted by
// name then value, joined with '&'; a parameter without value is "name=".
std::string CanonicalQuery(const KeyValues& decoded_params);
// "20150830T123600Z".
std::string FormatAmzDate(absl::Time t);

struct SigV4Request {
  std::string method;        // "GET", ...
  std::string path;          // decoded, starting with '/'
  KeyValues query;           // decoded
  KeyValues headers;         // must contain Host; names in any case
  std::string payload_hash;  // hex SHA-256 of the body, or kUnsignedPayload
};

struct SigV4Scope {
  std::string region;   // "us-east-1"
  std::string service;  // "s3"
  absl::Time time;      // signing time
};

struct SigV4Options {
  // Send and sign x-amz-content-sha256 (S3 requires it; the generic test
  // suite does not use it).
  bool content_sha256_header = true;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;       // hex
  std::string signed_headers;  // "host;x-amz-date"
  std::string authorization;   // the Authorization header value (header form)
  // Header form: headers the caller must add to the request (x-amz-date,
  // x-amz-content-sha256, x-amz-security-token, Authorization).
  KeyValues headers_to_add;
  // Query form: the full decoded query including X-Amz-Signature.
  KeyValues query;
};

// Header-form signature of `request` (every header in it is signed).
SigV4Signature SignRequest(const SigV4Request& request, const AwsCredentials& credentials, const SigV4Scope& scope,
                           const SigV4Options& options = {});

// Query-string signature (a presigned URL) valid for `expires`: X-Amz-Algorithm,
// -Credential, -Date, -Expires, -SignedHeaders (and -Security-Token) are added
// to the query and signed; the payload hash is request.payload_hash (S3 uses
// UNSIGNED-PAYLOAD). The caller checks 1 s <= expires <= 7 days.
SigV4Signature PresignRequest(const SigV4Request& request, const AwsCredentials& credentials, const SigV4Scope& scope,
                              absl::Duration expires);

}  // namespace imagen::jobs
