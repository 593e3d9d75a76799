#include "serving/test_repository.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/check.h"

namespace imagen::serving {

TestRepository::TestRepository() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "imagen-repo-XXXXXX").string();
  IMAGEN_CHECK(mkdtemp(tmpl.data()) != nullptr, "mkdtemp");
  dir_ = tmpl;
}

TestRepository::~TestRepository() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void TestRepository::AddModel(const std::string& model, const std::string& config_pbtxt, int version) {
  std::filesystem::create_directories(std::filesystem::path(dir_) / model / std::to_string(version));
  std::ofstream(std::filesystem::path(dir_) / model / "config.pbtxt") << config_pbtxt;
}

void TestRepository::Remove(const std::string& model) {
  std::filesystem::remove_all(std::filesystem::path(dir_) / model);
}

void TestRepository::AddStandardModels() {
  AddModel("identity", R"(
backend: "imagen_test"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
dynamic_batching { }
)");
  AddModel("add_sub", R"(
backend: "imagen_test"
max_batch_size: 0
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
        { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
         { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] } ]
)");
  AddModel("delay", R"(
backend: "imagen_test"
max_batch_size: 8
parameters { key: "execute_delay_us" value { string_value: "20000" } }
dynamic_batching {
  preferred_batch_size: [ 4 ]
  max_queue_delay_microseconds: 50000
  default_queue_policy { max_queue_size: 16 default_timeout_microseconds: 0 allow_timeout_override: true }
}
)");
  AddModel("pipeline", R"(
platform: "ensemble"
max_batch_size: 0
input [ { name: "A" data_type: TYPE_FP32 dims: [ 4 ] }, { name: "B" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "SUM" data_type: TYPE_FP32 dims: [ 4 ] } ]
ensemble_scheduling {
  step [
    { model_name: "add_sub" model_version: -1
      input_map { key: "INPUT0" value: "A" } input_map { key: "INPUT1" value: "B" }
      output_map { key: "OUTPUT0" value: "S" } },
    { model_name: "add_sub" model_version: -1
      input_map { key: "INPUT0" value: "S" } input_map { key: "INPUT1" value: "B" }
      output_map { key: "OUTPUT1" value: "SUM" } }
  ]
}
)");
  AddModel("slow", R"(
backend: "imagen_test"
max_batch_size: 8
parameters { key: "test_model" value { string_value: "delay" } }
parameters { key: "execute_delay_us" value { string_value: "300000" } }
dynamic_batching { default_queue_policy { max_queue_size: 2 } }
)");
  AddModel("broken", "backend: \"imagen_test\"\nmax_batch_size: 1\nbogus_field: 3\n");
}

}  // namespace imagen::serving
