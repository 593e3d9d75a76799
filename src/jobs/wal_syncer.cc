#include "jobs/wal_syncer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/env.h"

namespace imagen::jobs {

absl::StatusOr<std::unique_ptr<WalSyncer>> WalSyncer::Open(const std::string& wal_path) {
  int fd = ::open(wal_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoToStatus(wal_path, errno);
  return std::unique_ptr<WalSyncer>(new WalSyncer(wal_path, fd));
}

WalSyncer::~WalSyncer() { ::close(fd_); }

uint64_t WalSyncer::Committed() {
  absl::MutexLock lock(&mu_);
  return ++committed_;
}

int64_t WalSyncer::syncs() const {
  absl::MutexLock lock(&mu_);
  return syncs_;
}

absl::Status WalSyncer::SyncAll() {
  uint64_t ticket;
  {
    absl::MutexLock lock(&mu_);
    ticket = committed_;
  }
  return SyncThrough(ticket);
}

absl::Status WalSyncer::SyncThrough(uint64_t ticket) {
  absl::MutexLock lock(&mu_);
  if (failed_.ok() && synced_ < ticket && started_ >= ticket) {
    // A sync under way already covers `ticket` (targets grow with start order).
    auto done = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !failed_.ok() || synced_ >= ticket; };
    mu_.Await(absl::Condition(&done));
  }
  if (!failed_.ok()) return failed_;
  if (synced_ >= ticket) return absl::OkStatus();
  // None covers it: lead a sync of every commit made so far, alongside any
  // older one still running (waiting for that first would double the wait).
  uint64_t target = committed_;
  started_ = target;
  mu_.Unlock();
  int rc = ::fdatasync(fd_);
  int err = errno;
  mu_.Lock();
  ++syncs_;
  if (rc != 0) {
    absl::Status s = ErrnoToStatus(path_, err);
    failed_ = absl::Status(s.code(), absl::StrCat("fdatasync of the job database's WAL failed (", s.message(),
                                                  "); durable writes are refused until the server restarts"));
    return failed_;
  }
  if (target > synced_) synced_ = target;
  return absl::OkStatus();
}

}  // namespace imagen::jobs
