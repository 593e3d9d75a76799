#include "jobs/blob_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "jobs/crypto.h"

namespace imagen::jobs {

namespace {
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

absl::StatusOr<std::string> BlobStore::PutInput(std::string_view bytes) {
  std::string ref = Sha256Hex(bytes);
  std::string path = InputPath(ref);
  if (env_->FileExists(path)) {
    auto size = env_->GetFileSize(path);
    if (size.ok() && *size == bytes.size()) return ref;
  }
  RETURN_IF_ERROR(env_->CreateDirs(absl::StrCat(root_, "/inputs/", ref.substr(0, 2))));
  RETURN_IF_ERROR(WriteFileAtomically(env_, path, bytes));
  return ref;
}

absl::StatusOr<std::string> BlobStore::GetInput(const std::string& ref) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  return env_->ReadFile(InputPath(ref));
}

absl::Status BlobStore::RemoveInput(const std::string& ref) {
  if (!ValidRef(ref)) return absl::InvalidArgumentError("bad blob reference");
  std::string path = InputPath(ref);
  if (!env_->FileExists(path)) return absl::OkStatus();
  return env_->RemoveFile(path);
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
