#include "http/fd_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>

#include "common/logging.h"

namespace imagen::http {

namespace {

uint64_t NrOpen() {
  std::ifstream in("/proc/sys/fs/nr_open");
  uint64_t n = 0;
  if (in >> n && n > 0) return n;
  return 1u << 20;
}

}  // namespace

FileLimit CurrentFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
  return {static_cast<uint64_t>(rl.rlim_cur), static_cast<uint64_t>(rl.rlim_max)};
}

FileLimit RaiseFileLimit() {
  static std::once_flag once;
  std::call_once(once, [] {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      spdlog::warn("cannot read the open-file limit: {}", std::strerror(errno));
      return;
    }
    rlim_t target = rl.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(NrOpen()) : rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= target) {
      spdlog::info("open-file limit {} (hard {})", rl.rlim_cur, rl.rlim_max);
      return;
    }
    rlim_t before = rl.rlim_cur;
    rl.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      spdlog::warn("cannot raise the open-file limit from {} to {}: {}", before, target, std::strerror(errno));
      return;
    }
    spdlog::info("raised the open-file limit from {} to {}", before, target);
  });
  return CurrentFileLimit();
}

int DefaultMaxConnections(uint64_t soft_limit) {
  uint64_t half = soft_limit / 2;
  return static_cast<int>(std::clamp<uint64_t>(half, 1, 1024));
}

}  // namespace imagen::http
