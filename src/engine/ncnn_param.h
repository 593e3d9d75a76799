// Parser for ncnn's text graph format (.param): the layer list with their
// bottom/top blob names and integer-keyed parameter dictionaries, as defined
// in Tencent/ncnn docs/developer-guide/param-and-model-file-structure.md.
// Pure functions over strings; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace imagen::engine {

// One `key=value` entry. Scalars have one element; arrays (keys written as
// -23300-key) may have any number. ncnn decides float vs int per value by the
// presence of '.', 'e' or 'E'; both views are kept so a layer can read either.
struct NcnnParamValue {
  bool is_array = false;
  std::vector<int> ints;
  std::vector<float> floats;
};

class NcnnParamDict {
 public:
  void Set(int key, NcnnParamValue value) { values_[key] = std::move(value); }
  bool Has(int key) const { return values_.count(key) != 0; }
  int GetInt(int key, int default_value) const;
  float GetFloat(int key, float default_value) const;
  // Empty when absent.
  std::vector<int> GetInts(int key) const;
  std::vector<float> GetFloats(int key) const;
  const std::map<int, NcnnParamValue>& values() const { return values_; }

 private:
  std::map<int, NcnnParamValue> values_;
};

struct NcnnLayer {
  std::string type;
  std::string name;
  std::vector<std::string> bottoms;
  std::vector<std::string> tops;
  NcnnParamDict params;
};

struct NcnnParamFile {
  int declared_blob_count = 0;
  std::vector<NcnnLayer> layers;
};

// Parses the text of a .param file. Errors name the line and layer.
absl::StatusOr<NcnnParamFile> ParseNcnnParam(std::string_view text);

}  // namespace imagen::engine
