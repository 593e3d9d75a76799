// WalSyncer: group fsync of the job database's WAL. The write connection
// commits with synchronous=NORMAL (the WAL is written, not synced) under the
// store's write lock; each writer that needs durability then calls
// SyncThrough with its commit's ticket, outside that lock. One fdatasync of
// the WAL file covers every commit made before it started, so concurrent
// writers share syncs and none holds the write lock while the disk flushes.
// A writer whose commit came after the running sync began starts the next
// one at once rather than waiting for the running one to end.
// The first failed sync is sticky: every later SyncThrough fails (after a
// failed fsync the kernel may have dropped the dirty pages; only a restart,
// which re-reads the WAL from disk, knows what is durable). Thread-safe.
//
// Assumes the WAL file is not replaced while the store is open (SQLite only
// deletes it when the last connection closes; JobStore keeps two open).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace imagen::jobs {

class WalSyncer {
 public:
  static absl::StatusOr<std::unique_ptr<WalSyncer>> Open(const std::string& wal_path);
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // Call right after a commit returned (still under the write lock): the
  // ticket that SyncThrough takes to make that commit durable.
  uint64_t Committed();
  // Returns once the commit with `ticket` (and all before it) is on disk.
  absl::Status SyncThrough(uint64_t ticket);
  // Syncs everything committed so far.
  absl::Status SyncAll();
  int64_t syncs() const;

 private:
  WalSyncer(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

  const std::string path_;
  const int fd_;
  mutable absl::Mutex mu_;
  uint64_t committed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t started_ ABSL_GUARDED_BY(mu_) = 0;  // target of the latest sync begun
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace imagen::jobs
