#include "http/router.h"

#include "absl/strings/str_split.h"
#include "common/string_view.h"

namespace imagen::http {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(ToAbsl(path), '/', absl::SkipEmpty())) out.emplace_back(s);
  return out;
}

bool IsCapture(const std::string& s) { return s.size() >= 2 && s.front() == '{' && s.back() == '}'; }

}  // namespace

Handler Sync(SyncHandler fn) {
  return [fn = std::move(fn)](Request& req, RequestContext& ctx, ResponseStream&) -> boost::asio::awaitable<Response> {
    co_return fn(req, ctx);
  };
}

void Router::Add(Verb verb, std::string pattern, Handler handler) {
  routes_.push_back(Route_{verb, Segments(pattern), std::move(handler)});
}

void Router::AddSync(Verb verb, std::string pattern, SyncHandler handler) {
  Add(verb, std::move(pattern), Sync(std::move(handler)));
}

const Handler* Router::Match(const Request& req, RequestContext& ctx, Status& error) const {
  std::string_view target = req.target();
  size_t q = target.find('?');
  std::string_view path = target.substr(0, q);
  ctx.query = q == std::string_view::npos ? std::map<std::string, std::string>{} : ParseQuery(target.substr(q + 1));
  std::vector<std::string> segs = Segments(path);
  for (auto& s : segs) s = PercentDecode(s);

  bool path_matched = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segs.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      if (IsCapture(route.segments[i])) {
        params[route.segments[i].substr(1, route.segments[i].size() - 2)] = segs[i];
      } else {
        ok = route.segments[i] == segs[i];
      }
    }
    if (!ok) continue;
    path_matched = true;
    bool verb_ok = route.verb == req.method() || (route.verb == Verb::get && req.method() == Verb::head);
    if (!verb_ok) continue;
    ctx.path_params = std::move(params);
    return &route.handler;
  }
  error = path_matched ? Status::method_not_allowed : Status::not_found;
  return nullptr;
}

boost::asio::awaitable<Response> Router::Route(Request& req, RequestContext& ctx, ResponseStream& stream) const {
  Status error = Status::not_found;
  const Handler* h = Match(req, ctx, error);
  if (h == nullptr) {
    std::string what = error == Status::not_found ? "no such path: " : "method not allowed on: ";
    co_return ErrorResponse(req, error, error == Status::not_found ? "not_found" : "method_not_allowed",
                            what + std::string(req.target()));
  }
  co_return co_await (*h)(req, ctx, stream);
}

}  // namespace imagen::http
