#include "jobs/s3_config.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "boost/asio/ip/address.hpp"
#include "common/string_view.h"

namespace imagen::jobs {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(std::string_view s, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    int hi = i + 1 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat("blobs.store: bad percent-encoding in ", ToAbsl(what)));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

bool IsIpLiteral(const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  return !ec;
}

absl::Status ParseEndpoint(std::string_view url, S3Config* config) {
  size_t p = url.find("://");
  if (p == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("blobs.store: endpoint '", ToAbsl(url), "' must be an absolute http:// or https:// URL"));
  }
  std::string scheme = absl::AsciiStrToLower(ToAbsl(url.substr(0, p)));
  if (scheme != "http" && scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("blobs.store: endpoint scheme '", scheme, "' is not supported (http or https)"));
  }
  std::string_view rest = url.substr(p + 3);
  size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && rest.substr(slash) != "/") {
    return absl::InvalidArgumentError(
        absl::StrCat("blobs.store: endpoint '", ToAbsl(url), "' must not have a path or query"));
  }
  if (authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError("blobs.store: endpoint must not carry userinfo (use the AWS_* variables)");
  }
  std::string host;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("blobs.store: malformed IPv6 endpoint");
    host = std::string(authority.substr(1, close - 1));
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return absl::InvalidArgumentError("blobs.store: malformed endpoint host");
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return absl::InvalidArgumentError("blobs.store: endpoint has no host");
  config->scheme = scheme;
  config->host = absl::AsciiStrToLower(host);
  config->port = scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    uint32_t n = 0;
    if (!absl::SimpleAtoi(ToAbsl(port), &n) || n == 0 || n > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("blobs.store: endpoint port '", ToAbsl(port), "' is not valid"));
    }
    config->port = static_cast<uint16_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<S3Config> ParseS3Uri(std::string_view uri) {
  S3Config config;
  constexpr std::string_view kScheme = "s3://";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return absl::InvalidArgumentError(
        absl::StrCat("blobs.store '", ToAbsl(uri), "' is not an s3:// URI (s3://BUCKET/PREFIX?endpoint=...)"));
  }
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) return absl::InvalidArgumentError("blobs.store: '#' is not allowed");
  size_t slash = rest.find('/');
  config.bucket = std::string(rest.substr(0, slash));
  if (config.bucket.empty()) return absl::InvalidArgumentError("blobs.store: the s3:// URI names no bucket");
  if (slash != std::string_view::npos) {
    auto prefix = PercentDecode(rest.substr(slash + 1), "the prefix");
    if (!prefix.ok()) return prefix.status();
    config.prefix = *std::move(prefix);
    while (!config.prefix.empty() && config.prefix.front() == '/') config.prefix.erase(0, 1);
    if (!config.prefix.empty() && config.prefix.back() != '/') config.prefix.push_back('/');
  }
  bool have_endpoint = false;
  for (absl::string_view param : absl::StrSplit(ToAbsl(query), '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(param, absl::MaxSplits('=', 1));
    std::string name(kv.first);
    auto value = PercentDecode(ToStd(kv.second), name);
    if (!value.ok()) return value.status();
    if (name == "endpoint") {
      if (absl::Status s = ParseEndpoint(*value, &config); !s.ok()) return s;
      have_endpoint = true;
    } else if (name == "region") {
      if (value->empty()) return absl::InvalidArgumentError("blobs.store: region is empty");
      config.region = *value;
    } else if (name == "path_style") {
      if (*value == "true" || *value == "1") {
        config.path_style = true;
      } else if (*value == "false" || *value == "0") {
        config.path_style = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("blobs.store: path_style must be true or false, not '", *value, "'"));
      }
    } else if (name == "ca_file") {
      config.ca_file = *value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("blobs.store: unknown parameter '", name, "' (known: endpoint, region, path_style, ca_file)"));
    }
  }
  if (!have_endpoint) {
    config.scheme = "https";
    config.host = absl::StrCat("s3.", config.region, ".amazonaws.com");
    config.port = 443;
  }
  if (absl::Status s = ValidateLocation(config); !s.ok()) return s;
  return config;
}

absl::Status ValidateS3Config(const S3Config& c) {
  if (absl::Status s = ValidateLocation(c); !s.ok()) return s;
  if (c.part_size < (5 << 20)) return absl::InvalidArgumentError("s3: part_size must be at least 5 MiB");
  if (c.multipart_threshold < c.part_size) {
    return absl::InvalidArgumentError("s3: multipart_threshold must be at least part_size");
  }
  if (c.max_attempts < 1) return absl::InvalidArgumentError("s3: max_attempts must be at least 1");
  if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        "s3: credentials are missing (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure them)");
  }
  return absl::OkStatus();
}

absl::Status ValidateLocation(const S3Config& c) {
  const std::string& b = c.bucket;
  bool ok = b.size() >= 3 && b.size() <= 63;
  for (char ch : b) ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.');
  ok = ok && b.front() != '-' && b.front() != '.' && b.back() != '-' && b.back() != '.';
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "s3: bucket name '", b, "' is not valid (3-63 characters: lower-case letters, digits, '-' and '.')"));
  }
  if (c.host.empty()) return absl::InvalidArgumentError("s3: no endpoint host");
  if (c.scheme != "http" && c.scheme != "https") {
    return absl::InvalidArgumentError(absl::StrCat("s3: endpoint scheme '", c.scheme, "' is not http or https"));
  }
  if (!c.path_style && IsIpLiteral(c.host)) {
    return absl::InvalidArgumentError(absl::StrCat("s3: endpoint host ", c.host,
                                                   " is an IP address, which virtual-host addressing "
                                                   "(BUCKET.HOST) cannot use: add path_style=true"));
  }
  if (!c.path_style && b.find('.') != std::string::npos && c.scheme == "https") {
    return absl::InvalidArgumentError(absl::StrCat(
        "s3: bucket '", b, "' contains '.', which breaks TLS for virtual-host addressing: add path_style=true"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AwsCredentials> AwsCredentialsFromEnv(const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* name) -> std::string {
    const char* v = getenv ? getenv(name) : std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  AwsCredentials c{get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN")};
  if (c.access_key_id.empty()) return absl::FailedPreconditionError("s3: AWS_ACCESS_KEY_ID is not set");
  if (c.secret_access_key.empty()) return absl::FailedPreconditionError("s3: AWS_SECRET_ACCESS_KEY is not set");
  return c;
}

std::string EndpointUrl(const S3Config& c) {
  bool default_port = (c.scheme == "http" && c.port == 80) || (c.scheme == "https" && c.port == 443);
  std::string host = c.host.find(':') != std::string::npos ? absl::StrCat("[", c.host, "]") : c.host;
  return absl::StrCat(c.scheme, "://", host, default_port ? "" : absl::StrCat(":", c.port));
}

}  // namespace imagen::jobs
