// Writes small model repositories of built-in test models for tests and
// benches (a temp folder per repository, removed with the object). Not
// thread-safe.
#pragma once

#include <string>

namespace imagen::serving {

class TestRepository {
 public:
  TestRepository();  // creates an empty temp folder
  ~TestRepository();
  TestRepository(const TestRepository&) = delete;
  TestRepository& operator=(const TestRepository&) = delete;

  // Writes <dir>/<model>/config.pbtxt and an empty version folder "1".
  void AddModel(const std::string& model, const std::string& config_pbtxt, int version = 1);
  void Remove(const std::string& model);
  // identity (max_batch_size 8, dynamic batching), add_sub, delay (20 ms,
  // preferred batch 4), slow (300 ms, queue of 2), an ensemble `pipeline`
  // over add_sub, and a broken model.
  void AddStandardModels();
  const std::string& path() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace imagen::serving
