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
  for (;;) {
    if (!failed_.ok()) return failed_;
    if (synced_ >= ticket) return absl::OkStatus();
    if (syncing_) {
      // A sync is under way; it may not cover `ticket` (started earlier).
      auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !syncing_; };
      mu_.Await(absl::Condition(&idle));
      continue;
    }
    // Lead a sync for every commit made so far.
    syncing_ = true;
    uint64_t target = committed_;
    mu_.Unlock();
    int rc = ::fdatasync(fd_);
    int err = errno;
    mu_.Lock();
    syncing_ = false;
    ++syncs_;
    if (rc != 0) {
      absl::Status s = ErrnoToStatus(path_, err);
      failed_ = absl::Status(s.code(), absl::StrCat("fdatasync of the job database's WAL failed (", s.message(),
                                                    "); durable writes are refused until the server restarts"));
    } else if (target > synced_) {
      synced_ = target;
    }
  }
}

}  // namespace imagen::jobs
