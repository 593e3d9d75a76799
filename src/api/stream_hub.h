// Push-driven job streams (SSE, WebSocket) without polling: each open stream
// holds a Slot that caps the streams of its API key and waits on an asio
// timer that only a change of its job (JobEvents::Watch), the keep-alive
// interval or StopAll() wakes. An idle stream costs no wakeup between
// keep-alives. Thread-safe; a Slot is used from its stream's coroutine only.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/any_io_executor.hpp"
#include "boost/asio/awaitable.hpp"
#include "boost/asio/steady_timer.hpp"
#include "jobs/job_events.h"

namespace imagen::api {

struct StreamStats {
  uint64_t open = 0;     // streams open now
  uint64_t refused = 0;  // over a key's cap (429)
  uint64_t wakeups = 0;  // stream coroutine resumptions (changes, keep-alives, stop)
};

class StreamHub {
 public:
  class Slot;
  // `max_per_key` open streams per API key; 0: no cap.
  StreamHub(jobs::JobEvents* events, int max_per_key) : events_(events), max_per_key_(max_per_key) {}

  // A slot watching job `job_id` for a stream of `key_id`, resuming on `ex`;
  // nullptr when the key already has max_per_key streams open.
  std::unique_ptr<Slot> Open(const std::string& key_id, const std::string& job_id, boost::asio::any_io_executor ex);
  // Wakes every open stream and makes its waits return at once (shutdown).
  void StopAll();
  StreamStats stats() const;

 private:
  void Close(Slot* slot);
  jobs::JobEvents* events_;
  const int max_per_key_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> per_key_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<Slot*> slots_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> wakeups_{0};
};

class StreamHub::Slot {
 public:
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot();

  // Waits until the job changed since the last call (true; changes made
  // before Open count) or `keep_alive` passed or the hub stopped (false).
  boost::asio::awaitable<bool> WaitForChange(absl::Duration keep_alive);
  // True once StopAll() ran: the stream should end.
  bool stopped() const { return stopped_->load(); }

 private:
  friend class StreamHub;
  Slot(StreamHub* hub, std::string key_id, std::string job_id, boost::asio::any_io_executor ex);
  // Ends a pending wait (any thread): posts to the stream's executor, where
  // the timer lives.
  void Wake() const;
  bool Changed();

  StreamHub* hub_;
  std::string key_id_;
  std::string job_id_;
  boost::asio::any_io_executor ex_;
  std::shared_ptr<boost::asio::steady_timer> timer_;
  std::shared_ptr<std::atomic<bool>> stopped_ = std::make_shared<std::atomic<bool>>(false);
  uint64_t watch_ = 0;
  uint64_t seen_ = 0;  // JobEvents version last reported
};

}  // namespace imagen::api
