#include "engine/ncnn_param.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace imagen::engine {
namespace {

constexpr int kMagic = 7767517;
constexpr int kArrayKeyBase = -23300;

bool LooksFloat(std::string_view s) { return s.find_first_of(".eE") != std::string_view::npos; }

bool ParseNumber(const std::string& s, int* i, float* f) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  if (LooksFloat(s)) {
    *f = std::strtof(s.c_str(), &end);
    // An integer view of a float parameter exists only where it fits.
    if (!std::isfinite(*f) || std::fabs(*f) >= 2147483648.0f) return false;
    *i = static_cast<int>(*f);
  } else {
    long v = std::strtol(s.c_str(), &end, 10);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return false;
    *i = static_cast<int>(v);
    *f = static_cast<float>(v);
  }
  return end != nullptr && *end == '\0' && errno == 0;
}

absl::Status ParseEntry(const std::string& token, NcnnParamDict* dict, const std::string& where) {
  size_t eq = token.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": malformed parameter '", token, "'"));
  }
  int key = 0;
  float unused = 0;
  if (!ParseNumber(token.substr(0, eq), &key, &unused)) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad parameter key in '", token, "'"));
  }
  std::string rest = token.substr(eq + 1);
  NcnnParamValue value;
  if (key <= kArrayKeyBase) {
    key = kArrayKeyBase - key;
    value.is_array = true;
    std::vector<std::string> parts;
    std::stringstream ss(rest);
    std::string part;
    while (std::getline(ss, part, ',')) parts.push_back(part);
    int count = 0;
    float fcount = 0;
    if (parts.empty() || !ParseNumber(parts[0], &count, &fcount) || count < 0 ||
        static_cast<size_t>(count) != parts.size() - 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad array parameter '", token, "'"));
    }
    for (int k = 1; k <= count; ++k) {
      int iv = 0;
      float fv = 0;
      if (!ParseNumber(parts[k], &iv, &fv)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": bad array element in '", token, "'"));
      }
      value.ints.push_back(iv);
      value.floats.push_back(fv);
    }
  } else {
    int iv = 0;
    float fv = 0;
    if (!ParseNumber(rest, &iv, &fv)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": bad parameter value in '", token, "'"));
    }
    value.ints.push_back(iv);
    value.floats.push_back(fv);
  }
  dict->Set(key, std::move(value));
  return absl::OkStatus();
}

}  // namespace

int NcnnParamDict::GetInt(int key, int default_value) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.ints.empty()) return default_value;
  return it->second.ints[0];
}

float NcnnParamDict::GetFloat(int key, float default_value) const {
  auto it = values_.find(key);
  if (it == values_.end() || it->second.floats.empty()) return default_value;
  return it->second.floats[0];
}

std::vector<int> NcnnParamDict::GetInts(int key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<int>{} : it->second.ints;
}

std::vector<float> NcnnParamDict::GetFloats(int key) const {
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<float>{} : it->second.floats;
}

absl::StatusOr<NcnnParamFile> ParseNcnnParam(std::string_view text) {
  std::istringstream in{std::string(text)};
  std::string line;
  int line_no = 0;
  auto next_line = [&](std::string* out) {
    while (std::getline(in, *out)) {
      ++line_no;
      if (out->find_first_not_of(" \t\r") != std::string::npos) return true;
    }
    return false;
  };
  if (!next_line(&line)) return absl::InvalidArgumentError("ncnn param: empty file");
  int magic = 0;
  {
    std::istringstream ls(line);
    if (!(ls >> magic) || magic != kMagic) {
      return absl::InvalidArgumentError(absl::StrCat("ncnn param: bad magic on line ", line_no, " (want 7767517)"));
    }
  }
  NcnnParamFile file;
  int layer_count = 0;
  {
    if (!next_line(&line)) return absl::InvalidArgumentError("ncnn param: missing layer/blob counts");
    std::istringstream ls(line);
    if (!(ls >> layer_count >> file.declared_blob_count) || layer_count < 0 || file.declared_blob_count < 0) {
      return absl::InvalidArgumentError(absl::StrCat("ncnn param: bad layer/blob counts on line ", line_no));
    }
  }
  // Each layer takes a line, so the text bounds what the header may claim.
  file.layers.reserve(std::min<size_t>(static_cast<size_t>(layer_count), text.size() / 2 + 1));
  for (int i = 0; i < layer_count; ++i) {
    if (!next_line(&line)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ncnn param: truncated, expected ", layer_count, " layers, found ", i));
    }
    std::istringstream ls(line);
    NcnnLayer layer;
    int nb = -1, nt = -1;
    if (!(ls >> layer.type >> layer.name >> nb >> nt) || nb < 0 || nt < 0) {
      return absl::InvalidArgumentError(absl::StrCat("ncnn param: malformed layer header on line ", line_no));
    }
    std::string where = absl::StrCat("ncnn param line ", line_no, " layer '", layer.name, "' (", layer.type, ")");
    for (int64_t k = 0; k < int64_t{nb} + nt; ++k) {
      std::string blob;
      if (!(ls >> blob)) return absl::InvalidArgumentError(absl::StrCat(where, ": missing blob names"));
      (k < nb ? layer.bottoms : layer.tops).push_back(blob);
    }
    std::string token;
    while (ls >> token) {
      absl::Status s = ParseEntry(token, &layer.params, where);
      if (!s.ok()) return s;
    }
    file.layers.push_back(std::move(layer));
  }
  return file;
}

}  // namespace imagen::engine
