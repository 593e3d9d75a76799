// HTTP request/response types shared by every imagen HTTP surface, and the
// helpers that build JSON responses and errors. Pure functions; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "boost/beast/http.hpp"

namespace imagen::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using Status = beast_http::status;
using Verb = beast_http::verb;

// Route parameters ("/jobs/{id}" -> {"id": "..."}) and the decoded query.
struct RequestContext {
  std::map<std::string, std::string> path_params;
  std::map<std::string, std::string> query;
  std::string remote_address;
};

Response MakeResponse(const Request& req, Status status, std::string body, std::string_view content_type);
Response JsonResponse(const Request& req, Status status, std::string json);
// {"error":{"code":"<code>","message":"<message>"}}
Response ErrorResponse(const Request& req, Status status, std::string_view code, std::string_view message);
// KServe v2 / Triton error body {"error":"<message>"} (the KServe HTTP port
// answers every error in this shape; the official clients parse it).
std::string KServeErrorBody(std::string_view message);
Response KServeErrorResponse(const Request& req, Status status, std::string_view message);
// Maps a Status to its REST HTTP code and error code name through the one
// table (common/status_table.h); a disk-full status is 507 with Retry-After.
Response StatusResponse(const Request& req, const absl::Status& status);
Status HttpStatusFor(absl::StatusCode code);
std::string_view ErrorCodeFor(absl::StatusCode code);

// Splits "a=1&b=x%20y" into a map, percent-decoding names and values.
std::map<std::string, std::string> ParseQuery(std::string_view query);
std::string PercentDecode(std::string_view s);

}  // namespace imagen::http
