#include "serving/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace imagen::serving {
namespace {

absl::Status Errno(const std::string& what, int err) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", std::strerror(err)));
}

}  // namespace

absl::StatusOr<std::shared_ptr<SharedMemoryRegion>> SharedMemoryRegion::Map(const std::string& name,
                                                                            const std::string& key, uint64_t offset,
                                                                            uint64_t byte_size) {
  if (name.empty()) return absl::InvalidArgumentError("shared memory region name must not be empty");
  if (key.empty()) return absl::InvalidArgumentError("shared memory key must not be empty");
  int fd = shm_open(key.c_str(), O_RDWR, 0);
  if (fd < 0) {
    return Errno(absl::StrCat("Unable to open shared memory region: '", name, "' (key '", key, "')"), errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return Errno(absl::StrCat("Unable to stat shared memory key '", key, "'"), err);
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || byte_size > size - offset) {
    close(fd);
    return absl::InvalidArgumentError(absl::StrCat("failed to register shared memory region '", name, "': offset ",
                                                   offset, " + byte_size ", byte_size,
                                                   " exceeds the shared memory object's size ", size));
  }
  uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  uint64_t aligned = offset / page * page;
  size_t length = static_cast<size_t>(offset - aligned + byte_size);
  void* base = nullptr;
  if (length > 0) {
    base = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(aligned));
    if (base == MAP_FAILED) {
      int err = errno;
      close(fd);
      return Errno(absl::StrCat("Unable to map shared memory region: '", name, "'"), err);
    }
  }
  close(fd);  // the mapping stays valid
  std::shared_ptr<SharedMemoryRegion> r(new SharedMemoryRegion());
  r->name_ = name;
  r->key_ = key;
  r->offset_ = offset;
  r->byte_size_ = byte_size;
  r->map_base_ = base;
  r->map_length_ = length;
  r->data_ = base == nullptr ? nullptr : static_cast<char*>(base) + (offset - aligned);
  return r;
}

SharedMemoryRegion::~SharedMemoryRegion() {
  if (map_base_ != nullptr) munmap(map_base_, map_length_);
}

absl::Status SharedMemoryRegion::Check(uint64_t offset, uint64_t size) const {
  if (offset > byte_size_ || size > byte_size_ - offset) {
    return absl::InvalidArgumentError(absl::StrCat("shared memory region '", name_, "': offset ", offset, " + size ",
                                                   size, " exceeds the region's byte_size ", byte_size_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SharedMemoryRegion::Read(uint64_t offset, uint64_t size) const {
  if (absl::Status s = Check(offset, size); !s.ok()) return s;
  if (size == 0) return std::string();
  return std::string(data_ + offset, static_cast<size_t>(size));
}

absl::Status SharedMemoryRegion::Write(uint64_t offset, uint64_t capacity, const std::string& data) const {
  if (absl::Status s = Check(offset, capacity); !s.ok()) return s;
  if (data.size() > capacity) {
    return absl::InvalidArgumentError(absl::StrCat("shared memory region '", name_, "': the output needs ", data.size(),
                                                   " bytes but shared_memory_byte_size is ", capacity));
  }
  if (!data.empty()) std::memcpy(data_ + offset, data.data(), data.size());
  return absl::OkStatus();
}

absl::Status SharedMemoryManager::Register(const std::string& name, const std::string& key, uint64_t offset,
                                           uint64_t byte_size) {
  {
    absl::MutexLock l(&mu_);
    if (regions_.count(name) > 0) {
      return absl::AlreadyExistsError(absl::StrCat("shared memory region '", name, "' already in manager"));
    }
  }
  auto region = SharedMemoryRegion::Map(name, key, offset, byte_size);
  if (!region.ok()) return region.status();
  absl::MutexLock l(&mu_);
  if (!regions_.emplace(name, std::move(*region)).second) {
    return absl::AlreadyExistsError(absl::StrCat("shared memory region '", name, "' already in manager"));
  }
  return absl::OkStatus();
}

absl::Status SharedMemoryManager::Unregister(const std::string& name) {
  std::map<std::string, std::shared_ptr<SharedMemoryRegion>> dropped;  // unmapped outside the lock
  absl::MutexLock l(&mu_);
  if (name.empty()) {
    dropped.swap(regions_);
    return absl::OkStatus();
  }
  auto it = regions_.find(name);
  if (it == regions_.end()) {
    return absl::NotFoundError(absl::StrCat("Unable to find system shared memory region: '", name, "'"));
  }
  dropped.insert(regions_.extract(it));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<SharedMemoryRegion>>> SharedMemoryManager::Status(
    const std::string& name) const {
  absl::MutexLock l(&mu_);
  std::vector<std::shared_ptr<SharedMemoryRegion>> out;
  if (name.empty()) {
    for (const auto& [n, r] : regions_) out.push_back(r);
    return out;
  }
  auto it = regions_.find(name);
  if (it == regions_.end()) {
    return absl::NotFoundError(absl::StrCat("Unable to find system shared memory region: '", name, "'"));
  }
  out.push_back(it->second);
  return out;
}

absl::StatusOr<SharedMemoryRef> SharedMemoryManager::Resolve(const std::string& tensor, const std::string& region,
                                                             uint64_t offset, uint64_t byte_size) const {
  SharedMemoryRef ref;
  {
    absl::MutexLock l(&mu_);
    auto it = regions_.find(region);
    if (it == regions_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("Unable to find shared memory region: '", region, "' (tensor '", tensor, "')"));
    }
    ref.region = it->second;
  }
  if (offset > ref.region->byte_size() || byte_size > ref.region->byte_size() - offset) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor, "': shared_memory_offset ", offset,
                                                   " + shared_memory_byte_size ", byte_size, " exceeds the byte_size ",
                                                   ref.region->byte_size(), " of shared memory region '", region, "'"));
  }
  ref.offset = offset;
  ref.byte_size = byte_size;
  return ref;
}

absl::Status ReadSharedMemoryInput(const SharedMemoryManager& shm, const std::string& region, uint64_t offset,
                                   uint64_t byte_size, Tensor* tensor) {
  size_t elem = DataTypeSize(tensor->datatype);
  if (elem > 0) {
    auto want = CheckedByteSize(tensor->shape, elem);
    if (!want || *want != byte_size) {
      return absl::InvalidArgumentError(absl::StrCat("input '", tensor->name, "': shared_memory_byte_size ", byte_size,
                                                     " does not match the ", want ? std::to_string(*want) : "invalid",
                                                     " bytes of shape ", ShapeString(tensor->shape), " ",
                                                     tensor->datatype));
    }
  }
  auto ref = shm.Resolve(tensor->name, region, offset, byte_size);
  if (!ref.ok()) return ref.status();
  auto data = ref->region->Read(offset, byte_size);
  if (!data.ok()) return data.status();
  tensor->data = std::move(*data);
  return absl::OkStatus();
}

absl::Status WriteSharedMemoryOutputs(const SharedMemoryOutputs& outputs, const InferResponse& response) {
  for (const auto& t : response.outputs) {
    auto it = outputs.find(t.name);
    if (it == outputs.end()) continue;
    const SharedMemoryRef& ref = it->second;
    if (t.data.size() > ref.byte_size) {
      return absl::InvalidArgumentError(absl::StrCat("output '", t.name, "' needs ", t.data.size(),
                                                     " bytes but its shared_memory_byte_size is ", ref.byte_size));
    }
    if (absl::Status s = ref.region->Write(ref.offset, ref.byte_size, t.data); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace imagen::serving
