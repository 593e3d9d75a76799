// The admin API key that the first start of `imagen serve` creates: random,
// printed once, saved to <data_dir>/admin.key with mode 0600.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "common/env.h"

namespace imagen {

struct AdminKey {
  std::string key;
  std::string path;
  bool created = false;  // true on the start that made it
};

// Loads the admin key from `data_dir`, creating it if absent.
absl::StatusOr<AdminKey> EnsureAdminKey(Env* env, const std::string& data_dir);

// A new random API key: "imk_" + 43 base64url characters (256 bits).
absl::StatusOr<std::string> NewApiKey();

}  // namespace imagen
