// A webhook receiver for tests: an imagen::http::Server on 127.0.0.1 that
// answers each delivery with the next scripted status (after an optional
// delay) and keeps what it received. Thread-safe.
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/this_coro.hpp"
#include "boost/asio/use_awaitable.hpp"
#include "http/server.h"

namespace imagen::jobs::testing {

struct Received {
  std::string id, timestamp, signature, body;
};

class WebhookReceiver {
 public:
  WebhookReceiver() {
    http::ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<http::Server>(
        o, [this](http::Request& req, http::RequestContext&, http::ResponseStream&) { return Handle(req); });
  }
  absl::Status Start() { return server_->Start(); }
  void Stop() { server_->Stop(absl::Seconds(1)); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()) + "/hook"; }
  // Answers the next deliveries with these statuses (then 200).
  void Script(std::vector<int> statuses, int delay_ms = 0) {
    absl::MutexLock l(&mu_);
    script_.assign(statuses.begin(), statuses.end());
    delay_ms_ = delay_ms;
  }
  std::vector<Received> received() {
    absl::MutexLock l(&mu_);
    return got_;
  }

 private:
  boost::asio::awaitable<http::Response> Handle(http::Request& req) {
    int status = 200, delay = 0;
    {
      absl::MutexLock l(&mu_);
      got_.push_back({std::string(req["webhook-id"]), std::string(req["webhook-timestamp"]),
                      std::string(req["webhook-signature"]), req.body()});
      if (!script_.empty()) {
        status = script_.front();
        script_.pop_front();
      }
      delay = delay_ms_;
    }
    if (delay > 0) {
      auto ex = co_await boost::asio::this_coro::executor;
      boost::asio::steady_timer t(ex, std::chrono::milliseconds(delay));
      co_await t.async_wait(boost::asio::use_awaitable);
    }
    co_return http::JsonResponse(req, static_cast<http::Status>(status), "{}");
  }

  std::unique_ptr<http::Server> server_;
  absl::Mutex mu_;
  std::deque<int> script_ ABSL_GUARDED_BY(mu_);
  int delay_ms_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Received> got_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::jobs::testing
