// Secrets at rest: AES-256-GCM (OpenSSL EVP) sealing of the webhook signing
// secrets that jobs.db stores, under one 32-byte key from the environment
// (IMAGEN_SECRET_KEY, base64) or a key file in the data folder. A sealed
// value is "enc:v1:" + base64(12-byte random nonce | ciphertext | 16-byte
// tag); the associated data binds it to its row (the API key id), so a
// sealed secret copied into another row does not open. Thread-safe
// (immutable after construction).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace imagen::jobs {

inline constexpr std::string_view kSecretKeyEnv = "IMAGEN_SECRET_KEY";
inline constexpr std::string_view kSecretKeyFile = "secret.key";

class SecretBox {
 public:
  // `key` must be 32 bytes.
  static absl::StatusOr<SecretBox> FromKey(std::string key);
  // IMAGEN_SECRET_KEY (base64 of 32 bytes) when set; else DIR/secret.key
  // (base64), created with 32 random bytes and mode 0600 on first use.
  // `source` (may be null) says which one was used.
  static absl::StatusOr<SecretBox> FromEnvOrFile(const std::string& data_dir, std::string* source = nullptr);

  std::string Seal(std::string_view plaintext, std::string_view context) const;
  // Fails (DataLoss) for a value sealed under another key or context, or
  // tampered with.
  absl::StatusOr<std::string> Open(std::string_view sealed, std::string_view context) const;
  static bool IsSealed(std::string_view text);

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace imagen::jobs
