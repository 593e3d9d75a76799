// The one adapter from S3 responses to absl::Status: the error document's
// <Code> (or, for body-less HEAD answers, the HTTP status) decides the code;
// the message names the operation, bucket and key and carries S3's own code
// and request id. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace imagen::jobs {

struct S3ErrorContext {
  std::string operation;  // "PutObject"
  std::string bucket;
  std::string key;                  // full object key, empty for bucket operations
  std::string access_key_id;        // named by credential errors
  bool conditional_create = false;  // 412 means "already exists"
};

// `http_status` >= 300; `body` is the (possibly empty) response body.
//   NoSuchKey, NoSuchUpload            -> NotFound
//   NoSuchBucket                       -> NotFound naming the bucket
//   AccessDenied, AllAccessDisabled    -> PermissionDenied
//   SignatureDoesNotMatch, InvalidAccessKeyId, ExpiredToken,
//   InvalidToken, RequestTimeTooSkewed -> Unauthenticated
//   PreconditionFailed / 412           -> AlreadyExists when conditional_create
//   SlowDown, InternalError, ServiceUnavailable, RequestTimeout, 5xx, 429
//                                      -> Unavailable (retryable)
//   BadDigest, XAmzContentSHA256Mismatch -> DataLoss
//   others by HTTP status (400 InvalidArgument, 404 NotFound, 409/412
//   FailedPrecondition, 416 OutOfRange, ...).
absl::Status S3ErrorToStatus(int http_status, std::string_view body, const S3ErrorContext& context);

// S3's own error code ("NoSuchBucket", "SlowDown", ...) travels with the
// status as a payload, for callers that must tell apart what one status code
// merges: a missing bucket (the store is misconfigured or gone, worth a
// job retry) from a missing key (NotFound too). "" when there is none.
std::string S3ErrorCode(const absl::Status& status);
inline bool IsS3NoSuchBucket(const absl::Status& status) { return S3ErrorCode(status) == "NoSuchBucket"; }
// Attaches `code` (what S3ErrorToStatus does for answers with an error body).
void SetS3ErrorCode(absl::Status* status, std::string_view code);

// Whether a failed attempt is worth repeating: Unavailable (5xx, SlowDown,
// connection failures) and DeadlineExceeded (timeouts).
bool IsS3Retryable(const absl::Status& status);

}  // namespace imagen::jobs
