// Browser sessions for the web UI: `POST /api/v1/session` trades an API key
// for a random session id kept here (in memory; a restart logs everyone
// out), sent back as the `imagen_session` cookie. The store keeps only the
// key's hash, so every request still looks the key up and a revoked key
// stops its sessions too. Sessions expire after a fixed lifetime and after
// an idle time. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "http/message.h"

namespace imagen::api {

inline constexpr std::string_view kSessionCookie = "imagen_session";

struct SessionOptions {
  absl::Duration lifetime = absl::Hours(12);
  absl::Duration idle = absl::Hours(2);
  size_t max_sessions = 10000;
};

class SessionStore {
 public:
  explicit SessionStore(SessionOptions options = {}) : options_(options) {}

  // A new session for the key whose sha256 is `key_hash`; its id (64 hex
  // characters from RAND_bytes).
  absl::StatusOr<std::string> Create(std::string key_hash, absl::Time now);
  // The key hash of a live session (touching its idle clock), or nullopt.
  std::optional<std::string> Lookup(std::string_view id, absl::Time now);
  void Remove(std::string_view id);

  // True when `req` carries the session cookie.
  static bool HasCookie(const http::Request& req);
  // The session id from the Cookie header, or "".
  static std::string CookieValue(const http::Request& req);
  // A state-changing request (not GET/HEAD/OPTIONS) authenticated by cookie
  // must name this server as its Origin: the Origin's host[:port] equals
  // the Host header.
  static bool OriginAllowed(const http::Request& req);

  // For ApiService::Authenticate: the key hash of the request's session, or
  // a 401 (no or expired session) / 403 (cross-origin) response in `error`.
  std::optional<std::string> KeyHashFor(const http::Request& req, http::Response* error);

  size_t size() const;

 private:
  struct Session {
    std::string key_hash;
    absl::Time created;
    absl::Time last_used;
  };
  void ExpireLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SessionOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::api
