// A fixed-size pool of threads running queued tasks in FIFO order. Thread-safe.
// The destructor (or Shutdown) finishes the tasks already queued, then joins.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace imagen {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads, std::string name = "pool");
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Returns false (and drops the task) after Shutdown has begun.
  bool Submit(std::function<void()> task);
  // Blocks until every task submitted so far has finished.
  void Wait();
  void Shutdown();
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace imagen
