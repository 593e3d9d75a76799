// Where the engine's real-model tests find their models: the Triton-layout
// model repository that `./run test` installs before the tests
// (`imagen models fetch --repository models/`, see install_models in ./run),
// `<repo>/<name>/1/model.param`. The repository is $IMAGEN_MODEL_REPOSITORY,
// else the build's IMAGEN_TEST_MODEL_REPOSITORY (${PROJECT_SOURCE_DIR}/models,
// set in src/engine/CMakeLists.txt). A test whose data is missing fails under
// CI=true and is skipped elsewhere, naming what is missing either way
// (IMAGEN_REQUIRE_TEST_DATA). Header-only, for tests; thread-safe (pure).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace imagen::engine::test_models {

inline bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

inline std::string Repository() {
  if (const char* d = std::getenv("IMAGEN_MODEL_REPOSITORY"); d != nullptr && *d != '\0') return d;
#ifdef IMAGEN_TEST_MODEL_REPOSITORY
  return IMAGEN_TEST_MODEL_REPOSITORY;
#else
  return "models";
#endif
}

// The ncnn .param of a catalogue model (its .bin is beside it).
inline std::string NcnnParam(const std::string& name) { return Repository() + "/" + name + "/1/model.param"; }

// Why `path` is needed and how to get it, for the failure or skip message.
inline std::string Missing(const std::string& what, const std::string& path) {
  return "missing test data: " + what + " (" + path + " does not exist; install the models with `imagen models " +
         "fetch --repository " + Repository() + "`, which `./run test` does, or set IMAGEN_MODEL_REPOSITORY)";
}

}  // namespace imagen::engine::test_models

// In a TEST body: fails (CI=true) or skips (elsewhere) when `path` is missing.
#define IMAGEN_REQUIRE_TEST_DATA(path, what)                                                                  \
  do {                                                                                                        \
    const std::string imagen_required_path_ = (path);                                                         \
    if (!std::filesystem::exists(imagen_required_path_)) {                                                    \
      if (::imagen::engine::test_models::InCi()) {                                                            \
        GTEST_FAIL() << ::imagen::engine::test_models::Missing((what), imagen_required_path_);                \
      } else {                                                                                                \
        GTEST_SKIP() << ::imagen::engine::test_models::Missing((what), imagen_required_path_) << " (CI=true " \
                     << "makes this a failure)";                                                              \
      }                                                                                                       \
    }                                                                                                         \
  } while (0)
