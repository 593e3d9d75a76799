#include "http/router.h"

#include "absl/strings/str_split.h"
#include "common/string_view.h"
#include "common/utf8.h"

namespace imagen::http {
namespace {

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view s : absl::StrSplit(ToAbsl(path), '/', absl::SkipEmpty())) out.emplace_back(s);
  return out;
}

bool IsCapture(const std::string& s) { return s.size() >= 2 && s.front() == '{' && s.back() == '}'; }

std::vector<std::string> DecodedSegments(std::string_view target) {
  std::vector<std::string> segs = Segments(target.substr(0, target.find('?')));
  for (auto& s : segs) s = PercentDecode(s);
  return segs;
}

// A client's target as it may appear in an error message: valid UTF-8 and
// at most 200 bytes.
std::string EchoTarget(std::string_view target) {
  constexpr size_t kMax = 200;
  std::string out = ToValidUtf8(target.substr(0, kMax));
  if (target.size() > kMax) out += "...";
  return out;
}

}  // namespace

Handler Sync(SyncHandler fn) {
  return [fn = std::move(fn)](Request& req, RequestContext& ctx, ResponseStream&) -> boost::asio::awaitable<Response> {
    co_return fn(req, ctx);
  };
}

void Router::Add(Verb verb, std::string pattern, Handler handler) {
  std::vector<std::string> segments = Segments(pattern);
  routes_.push_back(Route_{verb, std::move(pattern), std::move(segments), std::move(handler)});
}

void Router::AddSync(Verb verb, std::string pattern, SyncHandler handler) {
  Add(verb, std::move(pattern), Sync(std::move(handler)));
}

bool Router::PathMatches(const Route_& route, const std::vector<std::string>& segs,
                         std::map<std::string, std::string>* params) {
  if (route.segments.size() != segs.size()) return false;
  for (size_t i = 0; i < segs.size(); ++i) {
    if (IsCapture(route.segments[i])) {
      if (params != nullptr) (*params)[route.segments[i].substr(1, route.segments[i].size() - 2)] = segs[i];
    } else if (route.segments[i] != segs[i]) {
      return false;
    }
  }
  return true;
}

const Handler* Router::Match(const Request& req, RequestContext& ctx, Status& error) const {
  std::string_view target = req.target();
  size_t q = target.find('?');
  ctx.query = q == std::string_view::npos ? std::map<std::string, std::string>{} : ParseQuery(target.substr(q + 1));
  const std::vector<std::string> segs = DecodedSegments(target);

  bool path_matched = false;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!PathMatches(route, segs, &params)) continue;
    path_matched = true;
    bool verb_ok = route.verb == req.method() || (route.verb == Verb::get && req.method() == Verb::head);
    if (!verb_ok) continue;
    ctx.path_params = std::move(params);
    return &route.handler;
  }
  error = path_matched ? Status::method_not_allowed : Status::not_found;
  return nullptr;
}

std::string_view Router::PatternOf(std::string_view target) const {
  const std::vector<std::string> segs = DecodedSegments(target);
  for (const auto& route : routes_) {
    if (PathMatches(route, segs, nullptr)) return route.pattern;
  }
  return "other";
}

std::string_view MethodLabel(Verb verb) {
  switch (verb) {
    case Verb::get:
      return "GET";
    case Verb::head:
      return "HEAD";
    case Verb::post:
      return "POST";
    case Verb::put:
      return "PUT";
    case Verb::delete_:
      return "DELETE";
    case Verb::patch:
      return "PATCH";
    case Verb::options:
      return "OPTIONS";
    default:
      return "other";
  }
}

namespace {
Response UnroutedResponse(const Request& req, Status error) {
  std::string what = error == Status::not_found ? "no such path: " : "method not allowed on: ";
  return ErrorResponse(req, error, error == Status::not_found ? "not_found" : "method_not_allowed",
                       what + EchoTarget(req.target()));
}
}  // namespace

std::optional<Response> Router::RejectUnrouted(const Request& head) const {
  RequestContext probe;
  Status error = Status::not_found;
  if (Match(head, probe, error) != nullptr) return std::nullopt;
  return UnroutedResponse(head, error);
}

boost::asio::awaitable<Response> Router::Route(Request& req, RequestContext& ctx, ResponseStream& stream) const {
  Status error = Status::not_found;
  const Handler* h = Match(req, ctx, error);
  if (h == nullptr) co_return UnroutedResponse(req, error);
  co_return co_await (*h)(req, ctx, stream);
}

}  // namespace imagen::http
