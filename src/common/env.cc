#include "common/env.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen {

absl::Status WriteFileAtomically(Env* env, const std::string& path, std::string_view data) {
  static std::atomic<uint64_t> counter{0};
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  std::string tmp = absl::StrCat(path, ".tmp.", ::getpid(), ".", counter.fetch_add(1));
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto file, env->NewWritableFile(tmp));
    RETURN_IF_ERROR(file->Append(data));
    RETURN_IF_ERROR(file->Sync());
    RETURN_IF_ERROR(file->Close());
    RETURN_IF_ERROR(env->RenameFile(tmp, path));
    return env->SyncDir(dir);
  }();
  if (!s.ok() && env->FileExists(tmp)) env->RemoveFile(tmp).IgnoreError();
  return s;
}

}  // namespace imagen
