#include "api/stream_hub.h"

#include "boost/asio/post.hpp"
#include "boost/asio/redirect_error.hpp"
#include "boost/asio/use_awaitable.hpp"

namespace imagen::api {

namespace {
// Ends a pending wait now and makes the next one return at once; must run on
// the timer's executor.
void Fire(const std::shared_ptr<boost::asio::steady_timer>& timer) {
  timer->expires_at(boost::asio::steady_timer::time_point::min());
}
}  // namespace

std::unique_ptr<StreamHub::Slot> StreamHub::Open(const std::string& key_id, const std::string& job_id,
                                                 boost::asio::any_io_executor ex) {
  {
    absl::MutexLock lock(&mu_);
    int& n = per_key_[key_id];
    if (max_per_key_ > 0 && n >= max_per_key_) {
      ++refused_;
      return nullptr;
    }
    ++n;
  }
  std::unique_ptr<Slot> slot(new Slot(this, key_id, job_id, std::move(ex)));
  absl::MutexLock lock(&mu_);
  slots_.insert(slot.get());
  if (stopped_) slot->stopped_->store(true);
  return slot;
}

void StreamHub::Close(Slot* slot) {
  absl::MutexLock lock(&mu_);
  slots_.erase(slot);
  auto it = per_key_.find(slot->key_id_);
  if (it != per_key_.end() && --it->second <= 0) per_key_.erase(it);
}

void StreamHub::StopAll() {
  absl::MutexLock lock(&mu_);
  stopped_ = true;
  for (Slot* s : slots_) {
    s->stopped_->store(true);
    s->Wake();
  }
}

StreamStats StreamHub::stats() const {
  absl::MutexLock lock(&mu_);
  return StreamStats{.open = slots_.size(), .refused = refused_, .wakeups = wakeups_.load()};
}

StreamHub::Slot::Slot(StreamHub* hub, std::string key_id, std::string job_id, boost::asio::any_io_executor ex)
    : hub_(hub),
      key_id_(std::move(key_id)),
      job_id_(std::move(job_id)),
      ex_(std::move(ex)),
      timer_(std::make_shared<boost::asio::steady_timer>(ex_)) {
  // Watch first, then read the version: a change in between is seen twice
  // (harmless), never missed.
  watch_ =
      hub_->events_->Watch(job_id_, [ex = ex_, timer = timer_] { boost::asio::post(ex, [timer] { Fire(timer); }); });
  if (auto snap = hub_->events_->Get(job_id_)) seen_ = snap->version;
}

StreamHub::Slot::~Slot() {
  hub_->events_->Unwatch(job_id_, watch_);
  hub_->Close(this);
}

void StreamHub::Slot::Wake() const {
  boost::asio::post(ex_, [timer = timer_] { Fire(timer); });
}

bool StreamHub::Slot::Changed() {
  auto snap = hub_->events_->Get(job_id_);
  if (!snap || snap->version == seen_) return false;
  seen_ = snap->version;
  return true;
}

boost::asio::awaitable<bool> StreamHub::Slot::WaitForChange(absl::Duration keep_alive) {
  // No co_await between this check and arming the timer, and the watch's
  // Fire runs on this executor: a change either moved the version already or
  // fires the armed timer.
  if (Changed()) co_return true;
  if (stopped()) co_return false;
  timer_->expires_after(absl::ToChronoNanoseconds(keep_alive));
  boost::system::error_code ec;
  co_await timer_->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  hub_->wakeups_.fetch_add(1, std::memory_order_relaxed);
  co_return Changed();
}

}  // namespace imagen::api
