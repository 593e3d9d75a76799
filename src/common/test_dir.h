// For tests: a fresh, empty folder for the running GoogleTest case,
// <tmp>/<prefix>_<pid>_<test name>, removed and re-created. Header-only
// (tests link GoogleTest; the common library does not).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"

namespace imagen::testing {

inline std::filesystem::path FreshTestDir(const std::string& prefix) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()) + "_" +
                                                ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace imagen::testing
