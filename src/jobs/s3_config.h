// Configuration of the S3 client: where the bucket is (parsed from the
// `blobs.store` URI s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=R&path_style=true),
// credentials (explicit or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN), timeouts, retries and multipart sizes. Plain values;
// the parsers are pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "jobs/sigv4.h"

namespace imagen::jobs {

struct S3Config {
  std::string bucket;
  std::string prefix;  // "" or ends with '/'; prepended to every key
  // Endpoint; empty host means AWS (https://s3.REGION.amazonaws.com).
  std::string scheme = "https";
  std::string host;
  uint16_t port = 443;
  std::string region = "us-east-1";
  bool path_style = false;  // true: http://HOST/BUCKET/KEY; false: http://BUCKET.HOST/KEY
  AwsCredentials credentials;
  std::string ca_file;  // https: PEM file of trusted CAs; empty: the system's store

  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration request_timeout = absl::Seconds(60);  // one attempt, write + read
  int max_attempts = 4;                                // per request, including the first
  absl::Duration retry_base_delay = absl::Milliseconds(100);
  absl::Duration retry_max_delay = absl::Seconds(5);
  // PutObject switches to a multipart upload at this size, in parts of
  // part_size bytes (S3's minimum part is 5 MiB, the last part may be smaller).
  size_t multipart_threshold = 16 << 20;
  size_t part_size = 8 << 20;
  size_t max_get_bytes = size_t{1} << 30;  // GetObject refuses larger bodies
  int max_idle_connections = 16;           // keep-alive pool, per client
  bool sign_payload = true;                // false: x-amz-content-sha256: UNSIGNED-PAYLOAD
};

// Parses s3://BUCKET[/PREFIX][?endpoint=URL&region=R&path_style=true|false&ca_file=PATH].
// Credentials are left empty. Errors name the offending part.
absl::StatusOr<S3Config> ParseS3Uri(std::string_view uri);

// Checks bucket name, endpoint, sizes and credentials (all errors
// InvalidArgument naming the field).
absl::Status ValidateS3Config(const S3Config& config);
// The bucket name and endpoint part of ValidateS3Config (what a URI decides).
absl::Status ValidateLocation(const S3Config& config);

// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN
// through `getenv` (std::getenv by default). FailedPrecondition naming the
// missing variable when the key or the secret is unset.
absl::StatusOr<AwsCredentials> AwsCredentialsFromEnv(const std::function<const char*(const char*)>& getenv = nullptr);

// "http://127.0.0.1:7480" or "https://s3.us-east-1.amazonaws.com".
std::string EndpointUrl(const S3Config& config);

}  // namespace imagen::jobs
