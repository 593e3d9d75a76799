#include "http/message.h"

#include "common/logging.h"
#include "common/status_table.h"
#include "common/string_view.h"
#include "common/utf8.h"

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
  std::string body = "{\"error\":{\"code\":\"" + JsonEscape(ToValidUtf8(code)) + "\",\"message\":\"" +
                     JsonEscape(ToValidUtf8(message)) + "\"}}";
  return JsonResponse(req, status, std::move(body));
}

std::string KServeErrorBody(std::string_view message) {
  return "{\"error\":\"" + JsonEscape(ToValidUtf8(message)) + "\"}";
}

Response KServeErrorResponse(const Request& req, Status status, std::string_view message) {
  return JsonResponse(req, status, KServeErrorBody(message));
}

Status HttpStatusFor(absl::StatusCode code) { return static_cast<Status>(StatusRowFor(code).rest_http); }

std::string_view ErrorCodeFor(absl::StatusCode code) { return StatusRowFor(code).rest_code; }

Response StatusResponse(const Request& req, const absl::Status& status) {
  Response res =
      ErrorResponse(req, static_cast<Status>(RestHttpStatus(status)), RestErrorCode(status), ToStd(status.message()));
  if (int secs = RetryAfterSeconds(status); secs > 0) res.set(beast_http::field::retry_after, std::to_string(secs));
  return res;
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
