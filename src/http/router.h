// Maps (method, path pattern) to handlers. Patterns are literal segments and
// "{name}" captures, e.g. "/api/v1/jobs/{id}". Unknown paths get 404, a known
// path with another method 405, both as JSON errors. Handlers are coroutines
// so that long polls and streams do not block a thread; SyncHandler wraps a
// plain function. Build before serving; Route() is then thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "boost/asio/awaitable.hpp"
#include "http/message.h"
#include "http/stream.h"

namespace imagen::http {

using Handler = std::function<boost::asio::awaitable<Response>(Request&, RequestContext&, ResponseStream&)>;
using SyncHandler = std::function<Response(const Request&, const RequestContext&)>;

class Router {
 public:
  void Add(Verb verb, std::string pattern, Handler handler);
  void AddSync(Verb verb, std::string pattern, SyncHandler handler);

  boost::asio::awaitable<Response> Route(Request& req, RequestContext& ctx, ResponseStream& stream) const;

  // Finds the handler for a request; fills ctx.path_params and ctx.query.
  // Returns nullptr with `error` set to 404 or 405 when nothing matches.
  const Handler* Match(const Request& req, RequestContext& ctx, Status& error) const;
  // The 404/405 response Route() would give, from the request head alone
  // (for the server's header-stage check); nullopt when a route matches.
  std::optional<Response> RejectUnrouted(const Request& head) const;

  // The registered pattern whose path matches `target` (whatever the
  // method), e.g. "/api/v1/jobs/{id}", or "other": a metrics label that only
  // ever takes one of the route table's values, whatever the client sent.
  std::string_view PatternOf(std::string_view target) const;

 private:
  struct Route_ {
    Verb verb;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  // True with `params` filled when `route`'s path matches `segs`.
  static bool PathMatches(const Route_& route, const std::vector<std::string>& segs,
                          std::map<std::string, std::string>* params);
  std::vector<Route_> routes_;
};

// The method as a metrics label: GET, HEAD, POST, PUT, DELETE, PATCH or
// OPTIONS, else "other" (never the raw method string).
std::string_view MethodLabel(Verb verb);

// Wraps a plain function as a coroutine handler.
Handler Sync(SyncHandler fn);

}  // namespace imagen::http
