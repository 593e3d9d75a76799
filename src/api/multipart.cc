#include "api/multipart.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/string_view.h"

namespace imagen::api {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(ToAbsl(s)); }

// Finds parameter `name` in "type; a=b; c=\"d\"" (case-insensitive name).
bool HeaderParam(std::string_view header, std::string_view name, std::string* out) {
  constexpr size_t npos = std::string_view::npos;
  size_t i = header.find(';');
  if (i == npos) return false;
  const size_t n = header.size();
  while (i < n) {
    while (i < n && (header[i] == ' ' || header[i] == '\t' || header[i] == ';')) ++i;
    if (i >= n) break;
    size_t eq = header.find('=', i);
    if (eq == npos) return false;
    std::string key = Lower(Trim(header.substr(i, eq - i)));
    i = eq + 1;
    while (i < n && header[i] == ' ') ++i;
    std::string value;
    if (i < n && header[i] == '"') {
      ++i;
      while (i < n && header[i] != '"') {
        if (header[i] == '\\' && i + 1 < n) ++i;
        value.push_back(header[i]);
        ++i;
      }
      if (i >= n) return false;  // unterminated quoted string
      ++i;
      size_t semi = header.find(';', i);
      i = semi == npos ? n : semi;
    } else {
      size_t semi = header.find(';', i);
      value = std::string(Trim(header.substr(i, semi == npos ? npos : semi - i)));
      i = semi == npos ? n : semi;
    }
    if (key == name) {
      *out = value;
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type) {
  std::string type = Lower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type != "multipart/form-data") {
    return absl::InvalidArgumentError(
        absl::StrCat("expected Content-Type multipart/form-data, got '", ToAbsl(type.empty() ? "(none)" : type), "'"));
  }
  std::string boundary;
  if (!HeaderParam(content_type, "boundary", &boundary) || boundary.empty()) {
    return absl::InvalidArgumentError("multipart Content-Type has no boundary parameter");
  }
  if (boundary.size() > 70) return absl::InvalidArgumentError("multipart boundary is longer than 70 characters");
  return boundary;
}

absl::StatusOr<std::vector<Part>> ParseMultipart(std::string_view content_type, std::string_view body,
                                                 size_t max_parts) {
  auto boundary_or = MultipartBoundary(content_type);
  if (!boundary_or.ok()) return boundary_or.status();
  const std::string delim = "--" + *boundary_or;
  const std::string next_delim = "\r\n" + delim;

  // The body starts with the first delimiter (an optional preamble before it
  // is allowed by RFC 2046 but must end in CRLF).
  size_t pos;
  if (body.substr(0, delim.size()) == delim) {
    pos = 0;
  } else {
    pos = body.find(next_delim);
    if (pos == std::string_view::npos) return absl::InvalidArgumentError("multipart body has no opening boundary");
    pos += 2;
  }
  std::vector<Part> parts;
  while (true) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") break;  // close delimiter
    // Transport padding then CRLF.
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n")
      return absl::InvalidArgumentError("multipart boundary line not followed by CRLF");
    pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    std::string_view headers;
    size_t data_start;
    if (body.substr(pos, 2) == "\r\n") {  // no headers at all
      headers = {};
      data_start = pos + 2;
    } else {
      if (header_end == std::string_view::npos) {
        return absl::InvalidArgumentError("multipart part headers are not terminated (truncated body?)");
      }
      headers = body.substr(pos, header_end - pos);
      data_start = header_end + 4;
    }
    size_t data_end = body.find(next_delim, data_start);
    if (data_end == std::string_view::npos) {
      return absl::InvalidArgumentError("multipart body ends without a closing boundary (truncated body?)");
    }
    Part part;
    bool has_disposition = false;
    size_t hp = 0;
    while (hp <= headers.size() && !headers.empty()) {
      size_t eol = headers.find("\r\n", hp);
      std::string_view line = headers.substr(hp, eol == std::string_view::npos ? std::string_view::npos : eol - hp);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("malformed multipart header line '", ToAbsl(line.substr(0, 60)), "'"));
      }
      std::string name = Lower(Trim(line.substr(0, colon)));
      std::string_view value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        std::string kind = Lower(Trim(value.substr(0, value.find(';'))));
        if (kind != "form-data") {
          return absl::InvalidArgumentError(absl::StrCat("multipart part disposition '", kind, "' is not form-data"));
        }
        if (!HeaderParam(value, "name", &part.name) || part.name.empty()) {
          return absl::InvalidArgumentError("multipart part has no name in Content-Disposition");
        }
        HeaderParam(value, "filename", &part.filename);
        has_disposition = true;
      } else if (name == "content-type") {
        part.content_type = Lower(value);
      }
      if (eol == std::string_view::npos) break;
      hp = eol + 2;
    }
    if (!has_disposition) return absl::InvalidArgumentError("multipart part has no Content-Disposition header");
    part.data = body.substr(data_start, data_end - data_start);
    parts.push_back(std::move(part));
    if (parts.size() > max_parts) {
      return absl::InvalidArgumentError(absl::StrCat("multipart body has more than ", max_parts, " parts"));
    }
    pos = data_end + 2;
  }
  if (parts.empty()) return absl::InvalidArgumentError("multipart body has no parts");
  return parts;
}

}  // namespace imagen::api
