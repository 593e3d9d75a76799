// WorkerPool: N worker threads that lease and run jobs until stopped, plus a
// heartbeat thread that extends the leases of running jobs and records their
// progress. Stop() stops leasing, lets running jobs finish until a deadline,
// then releases the leases still held so the jobs run again after restart.
// Start/Stop from one thread; the rest is internal.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "worker/worker.h"

namespace imagen::worker {

struct PoolOptions {
  int threads = 2;
  WorkerOptions worker;
  absl::Duration heartbeat = absl::Seconds(5);
  absl::Duration idle_poll = absl::Milliseconds(250);
  std::string owner_prefix = "worker";
};

class WorkerPool {
 public:
  WorkerPool(jobs::JobStore* store, jobs::BlobStore* blobs, const ops::OpRegistry* registry,
             ops::InferenceClient* inference, jobs::JobEvents* events, PoolOptions options);
  ~WorkerPool();

  void SetTimingObserver(std::function<void(const JobTiming&)> fn) { observe_ = std::move(fn); }
  void Start();
  // Stops leasing; waits up to `grace` for running jobs; releases the rest.
  void Stop(absl::Duration grace);
  int busy() const { return busy_.load(); }

 private:
  void Loop(Worker* w);
  void HeartbeatLoop();

  jobs::JobStore* store_;
  jobs::JobEvents* events_;
  PoolOptions options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::thread heartbeat_;
  std::function<void(const JobTiming&)> observe_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> abort_{false};
  std::atomic<int> busy_{0};
  absl::Mutex mu_;
  bool stop_heartbeat_ ABSL_GUARDED_BY(mu_) = false;
  // job id -> (owner, latest progress)
  absl::flat_hash_map<std::string, std::pair<std::string, double>> running_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::worker
