#include "jobs/crypto.h"

#include "absl/strings/escaping.h"
#include "common/check.h"
#include "common/string_view.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"
#include "openssl/rand.h"
#include "openssl/sha.h"

namespace imagen::jobs {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char c : digest) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string Base64Encode(std::string_view data) { return absl::Base64Escape(ToAbsl(data)); }

absl::StatusOr<std::string> Base64Decode(std::string_view data) {
  std::string out;
  if (!absl::Base64Unescape(ToAbsl(data), &out)) return absl::InvalidArgumentError("malformed base64");
  return out;
}

static std::string RandomBytes(int n) {
  std::string bytes(static_cast<size_t>(n), '\0');
  IMAGEN_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), n) == 1, "CSPRNG failure");
  return bytes;
}

std::string RandomToken(std::string_view prefix, int bytes) {
  return std::string(prefix) + absl::WebSafeBase64Escape(ToAbsl(RandomBytes(bytes)));
}

std::string RandomHexId(std::string_view prefix, int bytes) {
  return std::string(prefix) + absl::BytesToHexString(ToAbsl(RandomBytes(bytes)));
}

}  // namespace imagen::jobs
