// Reads regular files out of a gzip-compressed tar archive (an npm
// tarball) without unpacking it to disk and without running anything from
// it. Handles ustar prefixes, GNU long names and pax `path` records.
// Stateless; thread-safe.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace imagen::ops {

// Returns the contents of every regular file whose path `want` accepts,
// keyed by path as stored (npm tarballs start with "package/"). Errors are
// DataLoss for a corrupt or truncated archive.
absl::StatusOr<std::map<std::string, std::string>> ExtractFromTarGz(
    const std::string& tgz, const std::function<bool(const std::string& path)>& want);

}  // namespace imagen::ops
