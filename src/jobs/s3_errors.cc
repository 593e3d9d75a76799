#include "jobs/s3_errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/string_view.h"
#include "jobs/s3_xml.h"

namespace imagen::jobs {
namespace {

std::string Object(const S3ErrorContext& c) {
  if (c.key.empty()) return absl::StrCat("bucket '", c.bucket, "'");
  return absl::StrCat("object '", c.key, "' in bucket '", c.bucket, "'");
}

constexpr char kS3CodePayload[] = "type.imagen/s3.error_code";

absl::Status Classify(int http_status, std::string_view body, const S3ErrorContext& c) {
  std::string code = XmlText(body, "Code").value_or("");
  std::string message = XmlText(body, "Message").value_or("");
  std::string request_id = XmlText(body, "RequestId").value_or("");
  std::string detail = absl::StrCat(" (HTTP ", http_status, code.empty() ? "" : " ", code, message.empty() ? "" : ": ",
                                    message, request_id.empty() ? "" : ", request id ", request_id, ")");
  std::string what = absl::StrCat("s3 ", c.operation, " ", Object(c));

  if (code == "NoSuchBucket") {
    return absl::NotFoundError(absl::StrCat("s3 ", c.operation, ": bucket '", c.bucket, "' does not exist", detail));
  }
  if (code == "NoSuchKey" || (code.empty() && http_status == 404)) {
    return absl::NotFoundError(absl::StrCat(what, ": not found", detail));
  }
  if (code == "NoSuchUpload") {
    return absl::NotFoundError(absl::StrCat(what, ": the multipart upload does not exist", detail));
  }
  if (code == "SignatureDoesNotMatch") {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": the signature does not match: the secret access key is wrong for access key id '",
                     c.access_key_id, "'", detail));
  }
  if (code == "InvalidAccessKeyId") {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": access key id '", c.access_key_id, "' is not known to the server", detail));
  }
  if (code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired") {
    return absl::UnauthenticatedError(absl::StrCat(what, ": the session token is invalid or expired", detail));
  }
  if (code == "RequestTimeTooSkewed") {
    return absl::UnauthenticatedError(
        absl::StrCat(what, ": this machine's clock differs too much from the server's", detail));
  }
  if (code == "AccessDenied" || code == "AllAccessDisabled" || (code.empty() && http_status == 403)) {
    return absl::PermissionDeniedError(
        absl::StrCat(what, ": access denied for access key id '", c.access_key_id, "'", detail));
  }
  if (code == "PreconditionFailed" || http_status == 412) {
    if (c.conditional_create) return absl::AlreadyExistsError(absl::StrCat(what, ": already exists", detail));
    return absl::FailedPreconditionError(absl::StrCat(what, ": precondition failed", detail));
  }
  if (code == "NotImplemented" || http_status == 501) {
    return absl::UnimplementedError(absl::StrCat(what, ": not supported by the server", detail));
  }
  if (code == "SlowDown" || code == "InternalError" || code == "ServiceUnavailable" || code == "RequestTimeout" ||
      http_status >= 500 || http_status == 429) {
    return absl::UnavailableError(absl::StrCat(what, ": the server is unavailable or overloaded", detail));
  }
  if (code == "BadDigest" || code == "XAmzContentSHA256Mismatch") {
    return absl::DataLossError(absl::StrCat(what, ": the body did not arrive intact", detail));
  }
  if (code == "QuotaExceeded") return absl::ResourceExhaustedError(absl::StrCat(what, ": quota exceeded", detail));
  if (code == "InvalidRange" || http_status == 416) return absl::OutOfRangeError(absl::StrCat(what, detail));
  switch (http_status) {
    case 400:
      return absl::InvalidArgumentError(absl::StrCat(what, ": bad request", detail));
    case 401:
      return absl::UnauthenticatedError(absl::StrCat(what, ": not authenticated", detail));
    case 404:
      return absl::NotFoundError(absl::StrCat(what, ": not found", detail));
    case 405:
      return absl::UnimplementedError(absl::StrCat(what, ": not supported by the server", detail));
    case 409:
      return absl::FailedPreconditionError(absl::StrCat(what, ": conflict", detail));
    default:
      return absl::UnknownError(absl::StrCat(what, ": unexpected answer", detail));
  }
}

}  // namespace

absl::Status S3ErrorToStatus(int http_status, std::string_view body, const S3ErrorContext& c) {
  absl::Status status = Classify(http_status, body, c);
  std::string code = XmlText(body, "Code").value_or("");
  if (!code.empty()) SetS3ErrorCode(&status, code);
  return status;
}

void SetS3ErrorCode(absl::Status* status, std::string_view code) {
  if (!status->ok()) status->SetPayload(kS3CodePayload, absl::Cord(ToAbsl(code)));
}

std::string S3ErrorCode(const absl::Status& status) {
  auto payload = status.GetPayload(kS3CodePayload);
  return payload.has_value() ? std::string(*payload) : std::string();
}

bool IsS3Retryable(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace imagen::jobs
