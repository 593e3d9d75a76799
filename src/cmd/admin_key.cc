#include "cmd/admin_key.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "openssl/rand.h"

namespace imagen {

absl::StatusOr<std::string> NewApiKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return absl::InternalError("CSPRNG failure (RAND_bytes)");
  return absl::StrCat("imk_", absl::WebSafeBase64Escape(absl::string_view(reinterpret_cast<char*>(bytes), 32)));
}

absl::StatusOr<AdminKey> EnsureAdminKey(Env* env, const std::string& data_dir) {
  AdminKey out;
  out.path = absl::StrCat(data_dir, "/admin.key");
  if (env->FileExists(out.path)) {
    ASSIGN_OR_RETURN(std::string text, env->ReadFile(out.path));
    out.key = std::string(absl::StripAsciiWhitespace(text));
    if (out.key.empty()) return absl::DataLossError(absl::StrCat(out.path, ": empty admin key file"));
    return out;
  }
  RETURN_IF_ERROR(env->CreateDirs(data_dir));
  ASSIGN_OR_RETURN(out.key, NewApiKey());
  mode_t old = ::umask(077);
  absl::Status s = WriteFileAtomically(env, out.path, out.key + "\n");
  ::umask(old);
  RETURN_IF_ERROR(s);
  out.created = true;
  return out;
}

}  // namespace imagen
