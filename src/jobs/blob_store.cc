#include "jobs/blob_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "jobs/crypto.h"

namespace imagen::jobs {

namespace {

// Runs fn(0..n-1) on up to 8 threads and returns the first error. Concurrent
// fsyncs share the file system's journal commits (ext4, XFS); one after the
// other, each waits for its own device flush.
absl::Status ParallelFor(size_t n, const std::function<absl::Status(size_t)>& fn) {
  constexpr size_t kThreads = 8;
  if (n <= 1) return n == 1 ? fn(0) : absl::OkStatus();
  std::vector<absl::Status> errors(std::min(n, kThreads));
  std::vector<std::thread> threads;
  for (size_t t = 0; t < errors.size(); ++t) {
    threads.emplace_back([&, t] {
      // A thread entry point: nothing may escape it (std::terminate).
      try {
        for (size_t i = t; i < n && errors[t].ok(); i += errors.size()) errors[t] = fn(i);
      } catch (const std::exception& e) {
        errors[t] = absl::InternalError(absl::StrCat("blob store: ", e.what()));
      } catch (...) {
        errors[t] = absl::InternalError("blob store: unknown exception");
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) RETURN_IF_ERROR(e);
  return absl::OkStatus();
}

bool SafeName(const std::string& s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

absl::Status BlobStore::Init() {
  RETURN_IF_ERROR(env_->CreateDirs(absl::StrCat(root_, "/inputs")));
  RETURN_IF_ERROR(env_->CreateDirs(absl::StrCat(root_, "/results")));
  // Tenants' uploads and results: private to this user, also in a folder an
  // older imagen created under umask 022 (files are created 0600 by Env).
  for (const std::string& dir : {root_, absl::StrCat(root_, "/inputs"), absl::StrCat(root_, "/results")}) {
    if (::chmod(dir.c_str(), 0700) != 0 && errno != ENOENT) return ErrnoToStatus(dir, errno);
  }
  // Temp files of writes that a crash interrupted.
  std::string results = absl::StrCat(root_, "/results");
  ASSIGN_OR_RETURN(auto names, env_->GetChildren(results));
  for (const auto& n : names) {
    if (absl::StrContains(n, ".tmp.")) RETURN_IF_ERROR(env_->RemoveFile(absl::StrCat(results, "/", n)));
  }
  ASSIGN_OR_RETURN(auto shards, env_->GetChildren(absl::StrCat(root_, "/inputs")));
  for (const auto& shard : shards) {
    std::string dir = absl::StrCat(root_, "/inputs/", shard);
    auto files = env_->GetChildren(dir);
    if (!files.ok()) continue;
    for (const auto& n : *files) {
      if (absl::StrContains(n, ".tmp.")) RETURN_IF_ERROR(env_->RemoveFile(absl::StrCat(dir, "/", n)));
    }
  }
  return absl::OkStatus();
}

bool BlobStore::ValidRef(const std::string& ref) const { return SafeName(ref); }

std::string BlobStore::InputPath(const std::string& ref) const {
  return absl::StrCat(root_, "/inputs/", ref.substr(0, 2), "/", ref);
}

std::string BlobStore::ResultPath(const std::string& ref) const { return absl::StrCat(root_, "/results/", ref); }

std::string BlobStore::InputRef(std::string_view bytes) { return Sha256Hex(bytes); }

absl::StatusOr<std::string> BlobStore::PutInput(std::string_view bytes) {
  std::string ref = InputRef(bytes);
  RETURN_IF_ERROR(PutInputs({{ref, bytes}}));
  return ref;
}

absl::Status BlobStore::PutInputs(const std::vector<std::pair<std::string, std::string_view>>& inputs) {
  static std::atomic<uint64_t> counter{0};
  struct Pending {
    std::string tmp;
    std::string path;
    std::unique_ptr<WritableFile> file;
  };
  std::vector<Pending> pending;
  std::set<std::string> dirs;  // shard folders to sync
  std::set<std::string> seen;
  absl::Status s = [&]() -> absl::Status {
    for (const auto& [ref, bytes] : inputs) {
      if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
      if (!seen.insert(ref).second) continue;
      std::string dir = absl::StrCat(root_, "/inputs/", ref.substr(0, 2));
      std::string path = InputPath(ref);
      // An existing file was synced before its rename; its folder entry may
      // not be (a process that died between rename and folder sync).
      dirs.insert(dir);
      if (env_->FileExists(path)) {
        auto size = env_->GetFileSize(path);
        if (size.ok() && *size == bytes.size()) continue;
      }
      RETURN_IF_ERROR(env_->CreateDirs(dir));
      Pending p{absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1)), path, nullptr};
      ASSIGN_OR_RETURN(p.file, env_->NewWritableFile(p.tmp));
      pending.push_back(std::move(p));
      RETURN_IF_ERROR(pending.back().file->Append(bytes));
    }
    RETURN_IF_ERROR(ParallelFor(pending.size(), [&](size_t i) -> absl::Status {
      RETURN_IF_ERROR(pending[i].file->Sync());
      return pending[i].file->Close();
    }));
    for (Pending& p : pending) {
      p.file.reset();
      RETURN_IF_ERROR(env_->RenameFile(p.tmp, p.path));
      p.tmp.clear();
    }
    std::vector<std::string> dir_list(dirs.begin(), dirs.end());
    return ParallelFor(dir_list.size(), [&](size_t i) { return env_->SyncDir(dir_list[i]); });
  }();
  if (!s.ok()) {
    for (Pending& p : pending) {
      p.file.reset();
      if (!p.tmp.empty() && env_->FileExists(p.tmp)) env_->RemoveFile(p.tmp).IgnoreError();
    }
  }
  return s;
}

absl::StatusOr<std::string> BlobStore::GetInput(const std::string& ref) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  return env_->ReadFile(InputPath(ref));
}

absl::Status BlobStore::RemoveInput(const std::string& ref) {
  std::function<absl::StatusOr<bool>(const std::string&)> check;
  {
    absl::MutexLock lock(&claims_mu_);
    check = referenced_;
  }
  if (!check) return absl::OkStatus();  // cannot prove it unreferenced: keep it
  return RemoveInputIfUnreferenced(ref, [&] { return check(ref); }).status();
}

void BlobStore::SetReferenceCheck(std::function<absl::StatusOr<bool>(const std::string& ref)> referenced) {
  absl::MutexLock lock(&claims_mu_);
  referenced_ = std::move(referenced);
}

InputClaim& InputClaim::operator=(InputClaim&& o) noexcept {
  if (this != &o) {
    Release();
    blobs_ = o.blobs_;
    refs_ = std::move(o.refs_);
    o.blobs_ = nullptr;
  }
  return *this;
}

void InputClaim::Release() {
  if (blobs_ != nullptr) blobs_->Unclaim(refs_);
  blobs_ = nullptr;
  refs_.clear();
}

InputClaim BlobStore::ClaimInputs(std::vector<std::string> refs) {
  absl::MutexLock lock(&claims_mu_);
  for (const auto& r : refs) ++claims_[r];
  return InputClaim(this, std::move(refs));
}

void BlobStore::Unclaim(const std::vector<std::string>& refs) {
  absl::MutexLock lock(&claims_mu_);
  for (const auto& r : refs) {
    auto it = claims_.find(r);
    if (it != claims_.end() && --it->second <= 0) claims_.erase(it);
  }
}

bool BlobStore::InputClaimed(const std::string& ref) {
  absl::MutexLock lock(&claims_mu_);
  return claims_.count(ref) > 0;
}

absl::StatusOr<bool> BlobStore::RemoveInputIfUnreferenced(const std::string& ref,
                                                          const std::function<absl::StatusOr<bool>()>& referenced) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  // Held through the check and the unlink: a submission claiming `ref` now
  // waits, then finds the file gone and writes it again.
  absl::MutexLock lock(&claims_mu_);
  if (claims_.count(ref) > 0) return false;
  ASSIGN_OR_RETURN(bool in_use, referenced());
  if (in_use) return false;
  std::string path = InputPath(ref);
  if (!env_->FileExists(path)) return true;
  RETURN_IF_ERROR(env_->RemoveFile(path));
  return true;
}

absl::StatusOr<std::vector<std::string>> BlobStore::ListInputs() {
  std::vector<std::string> out;
  ASSIGN_OR_RETURN(auto shards, env_->GetChildren(absl::StrCat(root_, "/inputs")));
  for (const auto& shard : shards) {
    auto files = env_->GetChildren(absl::StrCat(root_, "/inputs/", shard));
    if (!files.ok()) continue;  // not a folder
    for (const auto& n : *files) {
      if (SafeName(n) && n.substr(0, 2) == shard) out.push_back(n);
    }
  }
  return out;
}

absl::StatusOr<std::string> BlobStore::PutResult(const std::string& job_id, std::string_view bytes) {
  if (!ValidRef(job_id)) return absl::InvalidArgumentError("bad job id");
  RETURN_IF_ERROR(WriteFileAtomically(env_, ResultPath(job_id), bytes));
  return job_id;
}

absl::StatusOr<std::string> BlobStore::GetResult(const std::string& ref) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  return env_->ReadFile(ResultPath(ref));
}

absl::Status BlobStore::RemoveResult(const std::string& ref) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  std::string path = ResultPath(ref);
  if (!env_->FileExists(path)) return absl::OkStatus();
  return env_->RemoveFile(path);
}

}  // namespace imagen::jobs
