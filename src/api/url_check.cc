#include "api/url_check.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/ip/address_v6.hpp"
#include "common/string_view.h"

namespace imagen::api {
namespace {

absl::Status Bad(std::string_view why) { return absl::InvalidArgumentError(absl::StrCat("webhook_url ", ToAbsl(why))); }

bool ConsumePrefix(std::string_view* s, std::string_view prefix) {
  if (!s->starts_with(prefix)) return false;
  s->remove_prefix(prefix.size());
  return true;
}

bool IsUnreserved(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~'; }
bool IsSubDelim(char c) { return std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos; }

// *( pchar / extra ) with valid percent escapes; `extra` is "/" for a path,
// "/?" for a query or fragment.
bool IsPcharRun(std::string_view s, std::string_view extra) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size() || !absl::ascii_isxdigit(s[i + 1]) || !absl::ascii_isxdigit(s[i + 2])) return false;
      i += 2;
      continue;
    }
    if (IsUnreserved(c) || IsSubDelim(c) || c == ':' || c == '@') continue;
    if (extra.find(c) != std::string_view::npos) continue;
    return false;
  }
  return true;
}

// A DNS name (LDH labels of 1-63 characters, 253 in all; a final dot is
// allowed) or a dotted IPv4 address, which is also such a name.
bool IsDnsName(std::string_view host) {
  if (host.ends_with(".")) host.remove_suffix(1);
  if (host.empty() || host.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
      continue;
    }
    if (!absl::ascii_isalnum(host[i]) && host[i] != '-') return false;
    ++label;
  }
  return true;
}

}  // namespace

absl::Status CheckWebhookUrlSyntax(std::string_view url) {
  if (url.empty()) return Bad("is empty");
  if (url.size() > kMaxWebhookUrlBytes) {
    return Bad(absl::StrCat("is ", url.size(), " bytes; the limit is ", kMaxWebhookUrlBytes));
  }
  for (size_t i = 0; i < url.size(); ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c >= 0x80) {
      return Bad(absl::StrCat("must be ASCII (byte ", i,
                              " is not): percent-encode non-ASCII characters of the path and query (RFC 3986), "
                              "and give an internationalised host name in its ASCII xn-- form"));
    }
    if (c <= 0x20 || c == 0x7f) return Bad(absl::StrCat("contains a space or control character at byte ", i));
  }
  // scheme ":"
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0 || !absl::ascii_isalpha(url[0])) {
    return Bad("must be an absolute URL such as https://example.com/hook");
  }
  const std::string_view scheme = url.substr(0, colon);
  for (char c : scheme) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return Bad("has a malformed scheme");
  }
  std::string_view rest = url.substr(colon + 1);
  if (!ConsumePrefix(&rest, "//")) return Bad("must be an absolute URL with a host (scheme://host/...)");
  // "#" fragment, "?" query, path: split from the right of the authority.
  const size_t hash = rest.find('#');
  if (hash != std::string_view::npos) {
    if (!IsPcharRun(rest.substr(hash + 1), "/?")) return Bad("has a malformed fragment");
    rest = rest.substr(0, hash);
  }
  const size_t question = rest.find('?');
  if (question != std::string_view::npos) {
    if (!IsPcharRun(rest.substr(question + 1), "/?")) return Bad("has a malformed query (percent-encode it)");
    rest = rest.substr(0, question);
  }
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && !IsPcharRun(rest.substr(slash), "/")) {
    return Bad("has a malformed path (percent-encode it)");
  }
  if (authority.find('@') != std::string_view::npos) return Bad("must not carry userinfo (user:password@)");
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Bad("has a malformed IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!ConsumePrefix(&after, ":")) return Bad("has a malformed host");
      if (after.empty()) return Bad("has an empty port");
      port = after;
    }
    boost::system::error_code ec;
    (void)boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) return Bad("has a malformed IPv6 host");
  } else {
    const size_t c = authority.rfind(':');
    if (c != std::string_view::npos) {
      host = authority.substr(0, c);
      port = authority.substr(c + 1);
      if (port.empty()) return Bad("has an empty port");
    }
    if (host.empty()) return Bad("has no host");
    if (!IsDnsName(host)) {
      return Bad("has a malformed host (a DNS name of letters, digits, '-' and '.', or an IP address)");
    }
  }
  if (!port.empty()) {
    uint32_t n = 0;
    for (char ch : port) {
      if (!absl::ascii_isdigit(ch) || port.size() > 5) return Bad("has a bad port (1-65535)");
      n = n * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (n == 0 || n > 65535) return Bad("has a bad port (1-65535)");
  }
  const std::string lower = absl::AsciiStrToLower(ToAbsl(scheme));
  if (lower != "http" && lower != "https") {
    return absl::FailedPreconditionError(
        absl::StrCat("webhook_url scheme '", lower, "' is not supported (http or https)"));
  }
  return absl::OkStatus();
}

}  // namespace imagen::api
