#include "jobs/secret_box.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "jobs/crypto.h"
#include "openssl/evp.h"
#include "openssl/rand.h"

namespace imagen::jobs {

namespace {

constexpr std::string_view kPrefix = "enc:v1:";
constexpr int kNonce = 12;
constexpr int kTag = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

absl::StatusOr<std::string> ReadKeyFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": ", std::strerror(errno)));
  std::string text(256, '\0');
  ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n < 0) return absl::InternalError(absl::StrCat(path, ": ", std::strerror(errno)));
  text.resize(static_cast<size_t>(n));
  return std::string(absl::StripAsciiWhitespace(text));
}

// Creates `path` with a new random key (O_EXCL: a concurrent creator wins and
// its key is read instead).
absl::Status CreateKeyFile(const std::string& path) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) return absl::InternalError("RAND_bytes failed");
  std::string text = Base64Encode(std::string_view(reinterpret_cast<char*>(key), sizeof key)) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretBox> FromBase64(std::string_view text, std::string_view where) {
  auto key = Base64Decode(text);
  if (!key.ok() || key->size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(where), " must be the base64 of 32 bytes (e.g. openssl rand -base64 32)"));
  }
  return SecretBox::FromKey(std::move(*key));
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromKey(std::string key) {
  if (key.size() != 32) return absl::InvalidArgumentError("a secret key is 32 bytes");
  return SecretBox(std::move(key));
}

absl::StatusOr<SecretBox> SecretBox::FromEnvOrFile(const std::string& data_dir, std::string* source) {
  if (const char* env = std::getenv(std::string(kSecretKeyEnv).c_str()); env != nullptr && *env != '\0') {
    if (source) *source = std::string(kSecretKeyEnv);
    return FromBase64(std::string(absl::StripAsciiWhitespace(env)), kSecretKeyEnv);
  }
  std::string path = data_dir + "/" + std::string(kSecretKeyFile);
  auto text = ReadKeyFile(path);
  if (absl::IsNotFound(text.status())) {
    if (absl::Status s = CreateKeyFile(path); !s.ok()) return s;
    text = ReadKeyFile(path);
  }
  if (!text.ok()) return text.status();
  if (source) *source = path;
  return FromBase64(*text, path);
}

bool SecretBox::IsSealed(std::string_view text) { return text.starts_with(kPrefix); }

std::string SecretBox::Seal(std::string_view plaintext, std::string_view context) const {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  RAND_bytes(p, kNonce);
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_), p);
  EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size()));
  EVP_EncryptUpdate(ctx.get(), p + kNonce, &len, U(plaintext), static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx.get(), p + kNonce + len, &len);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, p + kNonce + plaintext.size());
  return std::string(kPrefix) + Base64Encode(out);
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed, std::string_view context) const {
  if (!IsSealed(sealed)) return absl::InvalidArgumentError("not a sealed secret");
  auto raw = Base64Decode(sealed.substr(kPrefix.size()));
  if (!raw.ok() || raw->size() < kNonce + kTag) return absl::DataLossError("a sealed secret is malformed");
  const auto* p = U(*raw);
  size_t n = raw->size() - kNonce - kTag;
  std::string out(n, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key_), p) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(context), static_cast<int>(context.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, p + kNonce,
                              static_cast<int>(n)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, const_cast<unsigned char*>(p + kNonce + n)) == 1;
  int final_len = 0;
  if (!ok || EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &final_len) != 1) {
    return absl::DataLossError(
        "a sealed webhook secret does not open with this secret key (another IMAGEN_SECRET_KEY or secret.key?)");
  }
  return out;
}

}  // namespace imagen::jobs
