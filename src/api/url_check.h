// Strict syntax check of a client-given webhook URL before anything else
// looks at it (RFC 3986 absolute URI, ASCII only): what passes is safe to
// store, echo in JSON and log. The delivery policy (resolvable, public
// address, scheme the client supports) is checked afterwards by
// jobs::ParseUrl and jobs::CheckTarget. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace imagen::api {

inline constexpr size_t kMaxWebhookUrlBytes = 2048;

// OK for "http(s)://host[:port][/path][?query][#fragment]" where host is a
// DNS name, an IPv4 address or a bracketed IPv6 address, with no userinfo.
// InvalidArgument (message starting "webhook_url ") for anything that is
// not such a URL: bytes >= 0x80 (non-ASCII paths must be percent-encoded,
// internationalised host names given in their xn-- form), spaces and control
// characters, a bad percent escape or port, over kMaxWebhookUrlBytes.
// FailedPrecondition for a well-formed URL whose scheme is not http/https.
absl::Status CheckWebhookUrlSyntax(std::string_view url);

}  // namespace imagen::api
