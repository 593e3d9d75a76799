// Maps (method, path pattern) to handlers. Patterns are literal segments and
// "{name}" captures, e.g. "/api/v1/jobs/{id}". Unknown paths get 404, a known
// path with another method 405, both as JSON errors. Handlers are coroutines
// so that long polls and streams do not block a thread; SyncHandler wraps a
// plain function. Build before serving; Route() is then thread-safe.
#pragma once

#include <functional>
#include <string>
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

 private:
  struct Route_ {
    Verb verb;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route_> routes_;
};

// Wraps a plain function as a coroutine handler.
Handler Sync(SyncHandler fn);

}  // namespace imagen::http
