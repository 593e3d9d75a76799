#include "api/session_store.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/string_view.h"

namespace imagen::api {

namespace bh = http::beast_http;

absl::StatusOr<std::string> SessionStore::Create(std::string key_hash, absl::Time now) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return absl::InternalError("RAND_bytes failed");
  std::string id = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
  absl::MutexLock lock(&mu_);
  ExpireLocked(now);
  if (sessions_.size() >= options_.max_sessions) {
    // Drop the least recently used one rather than refuse a login.
    auto oldest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    sessions_.erase(oldest);
  }
  sessions_[id] = Session{std::move(key_hash), now, now};
  return id;
}

std::optional<std::string> SessionStore::Lookup(std::string_view id, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(ToAbsl(id));
  if (it == sessions_.end()) return std::nullopt;
  Session& s = it->second;
  if (now - s.created >= options_.lifetime || now - s.last_used >= options_.idle) {
    sessions_.erase(it);
    return std::nullopt;
  }
  s.last_used = now;
  return s.key_hash;
}

void SessionStore::Remove(std::string_view id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(ToAbsl(id));
}

size_t SessionStore::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void SessionStore::ExpireLocked(absl::Time now) {
  absl::erase_if(sessions_, [&](const auto& kv) {
    return now - kv.second.created >= options_.lifetime || now - kv.second.last_used >= options_.idle;
  });
}

std::string SessionStore::CookieValue(const http::Request& req) {
  auto [begin, end] = req.equal_range(bh::field::cookie);
  for (auto it = begin; it != end; ++it) {
    for (absl::string_view pair : absl::StrSplit(ToAbsl(it->value()), ';')) {
      pair = absl::StripAsciiWhitespace(pair);
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      if (kv.first == ToAbsl(kSessionCookie)) return std::string(kv.second);
    }
  }
  return "";
}

bool SessionStore::HasCookie(const http::Request& req) { return !CookieValue(req).empty(); }

bool SessionStore::OriginAllowed(const http::Request& req) {
  http::Verb m = req.method();
  if (m == http::Verb::get || m == http::Verb::head || m == http::Verb::options) return true;
  auto origin = req.find(bh::field::origin);
  auto host = req.find(bh::field::host);
  if (origin == req.end() || host == req.end() || host->value().empty()) return false;
  std::string_view o = origin->value();
  for (std::string_view scheme : {"http://", "https://"}) {
    if (o.starts_with(scheme)) return absl::EqualsIgnoreCase(ToAbsl(o.substr(scheme.size())), ToAbsl(host->value()));
  }
  return false;
}

std::optional<std::string> SessionStore::KeyHashFor(const http::Request& req, http::Response* error) {
  std::string id = CookieValue(req);
  auto hash = id.empty() ? std::nullopt : Lookup(id, absl::Now());
  if (!hash) {
    *error = http::ErrorResponse(req, http::Status::unauthorized, "unauthenticated",
                                 "the session has expired or was logged out; log in again");
    return std::nullopt;
  }
  if (!OriginAllowed(req)) {
    *error = http::ErrorResponse(req, http::Status::forbidden, "cross_origin",
                                 "a request authenticated by the session cookie must carry this server's Origin");
    return std::nullopt;
  }
  return hash;
}

}  // namespace imagen::api
