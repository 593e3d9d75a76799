#include "imaging/decode_budget.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace imagen::imaging {
namespace {

std::string Mb(int64_t bytes) { return absl::StrFormat("%.0f MB", static_cast<double>(bytes) / 1e6); }

}  // namespace

DecodeBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

DecodeBudget::Reservation& DecodeBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (budget_ != nullptr) budget_->Release(bytes_);
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

DecodeBudget::Reservation::~Reservation() {
  if (budget_ != nullptr) budget_->Release(bytes_);
}

DecodeBudget& DecodeBudget::Global() {
  static DecodeBudget* budget = new DecodeBudget(int64_t{1} << 30);
  return *budget;
}

absl::StatusOr<DecodeBudget::Reservation> DecodeBudget::Reserve(int64_t bytes) {
  if (bytes < 0) bytes = 0;
  absl::MutexLock lock(&mu_);
  if (bytes > capacity_) {
    return absl::InvalidArgumentError(absl::StrCat("decoding this image needs about ", Mb(bytes),
                                                   "; this server decodes at most ", Mb(capacity_), " at a time"));
  }
  // Waits for the bytes; re-checks the capacity, which may shrink meanwhile.
  auto fits = [this, bytes]()
                  ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return in_use_ + bytes <= capacity_ || bytes > capacity_; };
  mu_.Await(absl::Condition(&fits));
  if (bytes > capacity_) {
    return absl::InvalidArgumentError(absl::StrCat("decoding this image needs about ", Mb(bytes),
                                                   "; this server decodes at most ", Mb(capacity_), " at a time"));
  }
  in_use_ += bytes;
  return Reservation(this, bytes);
}

void DecodeBudget::Release(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  in_use_ -= bytes;
}

void DecodeBudget::SetCapacity(int64_t bytes) {
  absl::MutexLock lock(&mu_);
  capacity_ = bytes;
}

int64_t DecodeBudget::capacity() const {
  absl::MutexLock lock(&mu_);
  return capacity_;
}

int64_t DecodeBudget::in_use() const {
  absl::MutexLock lock(&mu_);
  return in_use_;
}

int64_t DecodeCostBytes(int64_t width, int64_t height, int bands, int sample_bytes) {
  const int64_t pixels = width * height;
  return pixels * bands * sample_bytes + pixels * 4;
}

int64_t MaxPixelsPerByte(std::string_view format) {
  if (format == "jpeg") return 4096;
  if (format == "png") return 16384;
  if (format == "gif") return 8192;
  return 0;
}

absl::Status CheckPixelsPerByte(std::string_view format, int64_t encoded_bytes, int64_t pixels) {
  const int64_t ratio = MaxPixelsPerByte(format);
  if (ratio == 0 || pixels <= encoded_bytes * ratio) return absl::OkStatus();
  const std::string name(format);
  return absl::InvalidArgumentError(absl::StrCat(
      "the ", name, " header claims ", pixels, " pixels but the file has ", encoded_bytes, " bytes; a real ", name,
      " image needs at least 1 byte per ", ratio, " pixels (decode bomb refused)"));
}

}  // namespace imagen::imaging
