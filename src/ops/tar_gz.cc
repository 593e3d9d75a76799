#include "ops/tar_gz.h"

#include <zlib.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace imagen::ops {
namespace {

// Inflates a gzip stream (possibly several members) piece by piece.
class Gunzipper {
 public:
  explicit Gunzipper(const std::string& gz) {
    std::memset(&zs_, 0, sizeof(zs_));
    ok_ = inflateInit2(&zs_, 15 + 32) == Z_OK;
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    zs_.avail_in = static_cast<uInt>(gz.size());
  }
  ~Gunzipper() {
    if (ok_) inflateEnd(&zs_);
  }
  bool done() const { return done_; }
  // Appends up to 1 MiB of output to `out`.
  absl::Status Next(std::string* out) {
    if (!ok_) return absl::InternalError("zlib inflateInit failed");
    char buf[1 << 16];
    for (int i = 0; i < 16 && !done_; ++i) {
      zs_.next_out = reinterpret_cast<Bytef*>(buf);
      zs_.avail_out = sizeof(buf);
      int rc = inflate(&zs_, Z_NO_FLUSH);
      out->append(buf, sizeof(buf) - zs_.avail_out);
      if (rc == Z_STREAM_END) {
        if (zs_.avail_in == 0)
          done_ = true;
        else
          inflateReset(&zs_);  // concatenated gzip members
        continue;
      }
      if (rc != Z_OK) {
        return absl::DataLossError(
            absl::StrCat("tarball is not valid gzip (zlib ", rc, zs_.msg ? " " : "", zs_.msg ? zs_.msg : "", ")"));
      }
      if (zs_.avail_in == 0 && zs_.avail_out != 0) return absl::DataLossError("tarball is truncated (gzip ends early)");
    }
    return absl::OkStatus();
  }

 private:
  z_stream zs_;
  bool ok_ = false;
  bool done_ = false;
};

absl::StatusOr<uint64_t> Octal(const char* p, size_t n) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < n && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < n && p[i] >= '0' && p[i] <= '7'; ++i) v = v * 8 + static_cast<uint64_t>(p[i] - '0');
  for (; i < n; ++i) {
    if (p[i] != ' ' && p[i] != '\0') return absl::DataLossError("tar header has a bad number");
  }
  return v;
}

std::string Field(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }

// The `path` record of a pax extended header, or "".
std::string PaxPath(const std::string& body) {
  size_t pos = 0;
  while (pos < body.size()) {
    size_t space = body.find(' ', pos);
    if (space == std::string::npos) break;
    size_t len = std::strtoul(body.substr(pos, space - pos).c_str(), nullptr, 10);
    if (len == 0 || pos + len > body.size()) break;
    std::string rec = body.substr(space + 1, pos + len - space - 2);  // without the trailing newline
    if (rec.rfind("path=", 0) == 0) return rec.substr(5);
    pos += len;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::map<std::string, std::string>> ExtractFromTarGz(
    const std::string& tgz, const std::function<bool(const std::string& path)>& want) {
  Gunzipper gz(tgz);
  std::string tar;  // inflated bytes not yet consumed
  size_t pos = 0;
  // Makes at least `n` bytes available from `pos`; false at the end.
  auto need = [&](size_t n) -> absl::StatusOr<bool> {
    while (tar.size() - pos < n) {
      if (gz.done()) return false;
      if (pos > (8u << 20)) {
        tar.erase(0, pos);
        pos = 0;
      }
      absl::Status s = gz.Next(&tar);
      if (!s.ok()) return s;
    }
    return true;
  };
  std::map<std::string, std::string> files;
  std::string next_name;  // from a GNU 'L' or pax 'x' header
  while (true) {
    absl::StatusOr<bool> have = need(512);
    if (!have.ok()) return have.status();
    if (!*have) break;
    std::string header = tar.substr(pos, 512);
    const char* h = header.data();
    bool zero = true;
    for (int i = 0; i < 512 && zero; ++i) zero = h[i] == '\0';
    if (zero) return files;  // end-of-archive marker
    absl::StatusOr<uint64_t> size = Octal(h + 124, 12);
    if (!size.ok()) return size.status();
    const char type = h[156];
    pos += 512;
    const size_t padded = (*size + 511) / 512 * 512;
    have = need(padded);
    if (!have.ok()) return have.status();
    if (!*have) return absl::DataLossError("tarball is truncated (entry runs past the end)");
    std::string name = Field(h, 100);
    const std::string prefix = Field(h + 345, 155);
    if (std::memcmp(h + 257, "ustar", 5) == 0 && !prefix.empty()) name = prefix + "/" + name;
    if (!next_name.empty()) {
      name = next_name;
      next_name.clear();
    }
    if (type == 'L') {
      next_name = Field(tar.data() + pos, *size);
    } else if (type == 'x') {
      next_name = PaxPath(tar.substr(pos, *size));
    } else if ((type == '0' || type == '\0') && want(name)) {
      files[name] = tar.substr(pos, *size);
    }
    pos += padded;
  }
  return absl::DataLossError("tarball is truncated (no end-of-archive marker)");
}

}  // namespace imagen::ops
