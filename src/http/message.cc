#include "http/message.h"

#include "common/logging.h"
#include "common/string_view.h"

namespace imagen::http {

Response MakeResponse(const Request& req, Status status, std::string body, std::string_view content_type) {
  Response res{status, req.version()};
  res.set(beast_http::field::server, "imagen");
  res.set(beast_http::field::content_type, content_type);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response JsonResponse(const Request& req, Status status, std::string json) {
  return MakeResponse(req, status, std::move(json), "application/json");
}

Response ErrorResponse(const Request& req, Status status, std::string_view code, std::string_view message) {
  std::string body = "{\"error\":{\"code\":\"" + JsonEscape(code) + "\",\"message\":\"" + JsonEscape(message) + "\"}}";
  return JsonResponse(req, status, std::move(body));
}

Status HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return Status::ok;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return Status::bad_request;
    case absl::StatusCode::kFailedPrecondition:
      return Status::unprocessable_entity;
    case absl::StatusCode::kUnauthenticated:
      return Status::unauthorized;
    case absl::StatusCode::kPermissionDenied:
      return Status::forbidden;
    case absl::StatusCode::kNotFound:
      return Status::not_found;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return Status::conflict;
    case absl::StatusCode::kResourceExhausted:
      return Status::too_many_requests;
    case absl::StatusCode::kUnavailable:
      return Status::service_unavailable;
    case absl::StatusCode::kDeadlineExceeded:
      return Status::gateway_timeout;
    case absl::StatusCode::kUnimplemented:
      return Status::not_implemented;
    case absl::StatusCode::kCancelled:
      return Status::client_closed_request;
    default:
      return Status::internal_server_error;
  }
}

std::string_view ErrorCodeFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "ok";
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      return "invalid_argument";
    case absl::StatusCode::kFailedPrecondition:
      return "failed_precondition";
    case absl::StatusCode::kUnauthenticated:
      return "unauthenticated";
    case absl::StatusCode::kPermissionDenied:
      return "permission_denied";
    case absl::StatusCode::kNotFound:
      return "not_found";
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return "conflict";
    case absl::StatusCode::kResourceExhausted:
      return "resource_exhausted";
    case absl::StatusCode::kUnavailable:
      return "unavailable";
    case absl::StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case absl::StatusCode::kUnimplemented:
      return "unimplemented";
    case absl::StatusCode::kCancelled:
      return "cancelled";
    default:
      return "internal";
  }
}

Response StatusResponse(const Request& req, const absl::Status& status) {
  return ErrorResponse(req, HttpStatusFor(status.code()), ErrorCodeFor(status.code()), ToStd(status.message()));
}

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      out[PercentDecode(part)] = "";
    } else {
      out[PercentDecode(part.substr(0, eq))] = PercentDecode(part.substr(eq + 1));
    }
  }
  return out;
}

}  // namespace imagen::http
