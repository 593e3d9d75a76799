#include "jobs/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/string_view.h"

namespace imagen::jobs {
namespace {

constexpr absl::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// Trims and collapses runs of spaces and tabs to one space.
std::string CanonicalHeaderValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

struct Canonical {
  std::string request;
  std::string signed_headers;
};

// `headers` already holds everything to sign.
Canonical BuildCanonicalRequest(std::string_view method, std::string_view path, const KeyValues& query,
                                const KeyValues& headers, std::string_view payload_hash) {
  std::map<std::string, std::string> merged;  // sorted by lower-case name
  for (const auto& [name, value] : headers) {
    std::string key = absl::AsciiStrToLower(ToAbsl(name));
    auto [it, inserted] = merged.try_emplace(key, CanonicalHeaderValue(value));
    if (!inserted) absl::StrAppend(&it->second, ",", CanonicalHeaderValue(value));
  }
  std::string canonical_headers;
  std::vector<std::string> names;
  for (const auto& [name, value] : merged) {
    absl::StrAppend(&canonical_headers, name, ":", value, "\n");
    names.push_back(name);
  }
  Canonical out;
  out.signed_headers = absl::StrJoin(names, ";");
  out.request =
      absl::StrCat(absl::AsciiStrToUpper(ToAbsl(method)), "\n", CanonicalUri(path), "\n", CanonicalQuery(query), "\n",
                   canonical_headers, "\n", out.signed_headers, "\n", ToAbsl(payload_hash));
  return out;
}

std::string DateStamp(absl::Time t) { return absl::FormatTime("%Y%m%d", t, absl::UTCTimeZone()); }

std::string CredentialScope(const SigV4Scope& scope) {
  return absl::StrCat(DateStamp(scope.time), "/", scope.region, "/", scope.service, "/aws4_request");
}

std::string StringToSign(const SigV4Scope& scope, std::string_view canonical_request) {
  return absl::StrCat(kAlgorithm, "\n", FormatAmzDate(scope.time), "\n", CredentialScope(scope), "\n",
                      Sha256Hex(canonical_request));
}

std::string Signature(const AwsCredentials& credentials, const SigV4Scope& scope, std::string_view string_to_sign) {
  std::string key = HmacSha256(absl::StrCat("AWS4", credentials.secret_access_key), DateStamp(scope.time));
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, scope.service);
  key = HmacSha256(key, "aws4_request");
  return HexEncode(HmacSha256(key, string_to_sign));
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view decoded_path) {
  if (decoded_path.empty()) return "/";
  std::string out = UriEncode(decoded_path, /*keep_slash=*/true);
  if (out[0] != '/') out.insert(out.begin(), '/');
  return out;
}

std::string CanonicalQuery(const KeyValues& decoded_params) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(decoded_params.size());
  for (const auto& [k, v] : decoded_params) encoded.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, k, "=", v);
  }
  return out;
}

std::string FormatAmzDate(absl::Time t) { return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone()); }

SigV4Signature SignRequest(const SigV4Request& request, const AwsCredentials& credentials, const SigV4Scope& scope,
                           const SigV4Options& options) {
  SigV4Signature out;
  KeyValues headers = request.headers;
  auto has = [&](std::string_view name) {
    return std::any_of(headers.begin(), headers.end(),
                       [&](const auto& h) { return absl::EqualsIgnoreCase(ToAbsl(h.first), ToAbsl(name)); });
  };
  auto add = [&](std::string name, std::string value) {
    if (has(name)) return;
    headers.emplace_back(name, value);
    out.headers_to_add.emplace_back(std::move(name), std::move(value));
  };
  add("x-amz-date", FormatAmzDate(scope.time));
  if (options.content_sha256_header) add("x-amz-content-sha256", request.payload_hash);
  if (!credentials.session_token.empty()) add("x-amz-security-token", credentials.session_token);
  Canonical canonical =
      BuildCanonicalRequest(request.method, request.path, request.query, headers, request.payload_hash);
  out.canonical_request = std::move(canonical.request);
  out.signed_headers = std::move(canonical.signed_headers);
  out.string_to_sign = StringToSign(scope, out.canonical_request);
  out.signature = Signature(credentials, scope, out.string_to_sign);
  out.authorization = absl::StrCat(kAlgorithm, " Credential=", credentials.access_key_id, "/", CredentialScope(scope),
                                   ", SignedHeaders=", out.signed_headers, ", Signature=", out.signature);
  out.headers_to_add.emplace_back("Authorization", out.authorization);
  out.query = request.query;
  return out;
}

SigV4Signature PresignRequest(const SigV4Request& request, const AwsCredentials& credentials, const SigV4Scope& scope,
                              absl::Duration expires) {
  SigV4Signature out;
  std::vector<std::string> names;
  for (const auto& h : request.headers) names.push_back(absl::AsciiStrToLower(ToAbsl(h.first)));
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  KeyValues query = request.query;
  query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  query.emplace_back("X-Amz-Credential", absl::StrCat(credentials.access_key_id, "/", CredentialScope(scope)));
  query.emplace_back("X-Amz-Date", FormatAmzDate(scope.time));
  query.emplace_back("X-Amz-Expires", absl::StrCat(absl::ToInt64Seconds(expires)));
  if (!credentials.session_token.empty()) query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  query.emplace_back("X-Amz-SignedHeaders", absl::StrJoin(names, ";"));
  Canonical canonical =
      BuildCanonicalRequest(request.method, request.path, query, request.headers, request.payload_hash);
  out.canonical_request = std::move(canonical.request);
  out.signed_headers = std::move(canonical.signed_headers);
  out.string_to_sign = StringToSign(scope, out.canonical_request);
  out.signature = Signature(credentials, scope, out.string_to_sign);
  query.emplace_back("X-Amz-Signature", out.signature);
  out.query = std::move(query);
  return out;
}

}  // namespace imagen::jobs
