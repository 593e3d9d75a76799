// The process's open-file limit (RLIMIT_NOFILE): a server raises the soft
// limit to the hard one at start so that its connection cap, not the kernel,
// decides when to refuse clients. Thread-safe; the raise is done once.
#pragma once

#include <cstdint>

namespace imagen::http {

struct FileLimit {
  uint64_t soft = 0;  // in force now
  uint64_t hard = 0;
};

// Raises the soft limit to the hard limit (capped at /proc/sys/fs/nr_open when
// the hard limit is unlimited) the first time it is called, logs the result,
// and returns the limits then in force. Later calls return the current ones.
FileLimit RaiseFileLimit();

// The limits in force now, without changing them.
FileLimit CurrentFileLimit();

// The default connection cap for a server given the soft limit: half of it
// (room for a second server, files and models), at most 1024, at least 1.
int DefaultMaxConnections(uint64_t soft_limit);

}  // namespace imagen::http
