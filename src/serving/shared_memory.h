// Triton's system shared-memory extension, protocol-neutral: named POSIX shm
// regions (shm_open + mmap read-write of [offset, offset + byte_size) of the
// object), registered, listed and unregistered by the frontends, read for
// inputs and written for outputs. A request holds its regions by shared_ptr,
// so an unregister while it runs only drops the name; the mapping goes when
// the last request using it finishes. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "serving/inference_request.h"

namespace imagen::serving {

// One mapped region; unmapped when the last holder lets go.
class SharedMemoryRegion {
 public:
  // Maps [offset, offset + byte_size) of shm object `key`; the range must lie
  // within the object's size.
  static absl::StatusOr<std::shared_ptr<SharedMemoryRegion>> Map(const std::string& name, const std::string& key,
                                                                 uint64_t offset, uint64_t byte_size);
  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  uint64_t offset() const { return offset_; }
  uint64_t byte_size() const { return byte_size_; }
  // [offset, offset + size) relative to the registered range; OutOfRange
  // when it does not fit.
  absl::StatusOr<std::string> Read(uint64_t offset, uint64_t size) const;
  absl::Status Write(uint64_t offset, uint64_t capacity, const std::string& data) const;

 private:
  SharedMemoryRegion() = default;
  absl::Status Check(uint64_t offset, uint64_t size) const;
  std::string name_, key_;
  uint64_t offset_ = 0, byte_size_ = 0;
  void* map_base_ = nullptr;  // page-aligned start of the mapping
  size_t map_length_ = 0;
  char* data_ = nullptr;  // map_base_ + the offset's remainder in its page
};

// A tensor's shared_memory_* parameters, resolved to its region.
struct SharedMemoryRef {
  std::shared_ptr<SharedMemoryRegion> region;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

class SharedMemoryManager {
 public:
  // AlreadyExists when `name` is taken.
  absl::Status Register(const std::string& name, const std::string& key, uint64_t offset, uint64_t byte_size);
  // "" unregisters every region; NotFound for an unknown name.
  absl::Status Unregister(const std::string& name);
  // Every region ("" name) or the one named; NotFound for an unknown name.
  absl::StatusOr<std::vector<std::shared_ptr<SharedMemoryRegion>>> Status(const std::string& name) const;
  // The region for a tensor's parameters; NotFound for an unknown region,
  // InvalidArgument when [offset, offset + byte_size) leaves it.
  absl::StatusOr<SharedMemoryRef> Resolve(const std::string& tensor, const std::string& region, uint64_t offset,
                                          uint64_t byte_size) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<SharedMemoryRegion>> regions_ ABSL_GUARDED_BY(mu_);
};

// An input's data from its region: `tensor` has its name, datatype and
// shape; for fixed-size datatypes byte_size must equal the shape's size.
absl::Status ReadSharedMemoryInput(const SharedMemoryManager& shm, const std::string& region, uint64_t offset,
                                   uint64_t byte_size, Tensor* tensor);
// Outputs to be written to shared memory, by output name.
using SharedMemoryOutputs = std::map<std::string, SharedMemoryRef>;
// Writes each output named in `outputs` into its region (the encoders then
// leave its data out); InvalidArgument when one does not fit.
absl::Status WriteSharedMemoryOutputs(const SharedMemoryOutputs& outputs, const InferResponse& response);

}  // namespace imagen::serving
