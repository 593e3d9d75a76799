// Operation parameters: their schema (name, type, range, default,
// description) and validation of user-supplied text values against it. The
// API (GET /api/v1/operations, 422 on a bad value) and the CLI (--param k=v)
// share these. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace imagen::ops {

enum class ParamType { kInt, kFloat, kBool, kString, kEnum, kColor };
const char* ParamTypeName(ParamType type);

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kString;
  std::string default_value;  // text form; empty string for kString means ""
  std::string description;
  std::optional<double> min;         // kInt, kFloat
  std::optional<double> max;         // kInt, kFloat
  std::vector<std::string> choices;  // kEnum
};

// RGBA colour from "#rrggbb", "#rrggbbaa" or a name (white, black, ...).
struct Color {
  uint8_t r = 0, g = 0, b = 0, a = 255;
  bool operator==(const Color&) const = default;
};
absl::StatusOr<Color> ParseColor(const std::string& text);

using ParamValue = std::variant<int64_t, double, bool, std::string, Color>;

// Validated values for every parameter of an operation (defaults filled in).
class ParamValues {
 public:
  int64_t GetInt(const std::string& name) const;
  double GetFloat(const std::string& name) const;
  bool GetBool(const std::string& name) const;
  // kString and kEnum.
  const std::string& GetString(const std::string& name) const;
  Color GetColor(const std::string& name) const;
  bool WasGiven(const std::string& name) const { return given_.count(name) > 0; }
  // Canonical JSON of all values (for job records and idempotency hashing).
  nlohmann::json ToJson() const;

 private:
  friend absl::StatusOr<ParamValues> ValidateParams(const std::vector<ParamSpec>&,
                                                    const std::map<std::string, std::string>&);
  const ParamValue& Get(const std::string& name) const;
  std::map<std::string, ParamValue> values_;
  std::map<std::string, bool> given_;
};

// Checks every given value against `specs`. Errors are InvalidArgument with a
// message that starts "parameter '<name>': " (or "unknown parameter '<name>'"),
// which the API reports as 422.
absl::StatusOr<ParamValues> ValidateParams(const std::vector<ParamSpec>& specs,
                                           const std::map<std::string, std::string>& given);

// {"name","type","default","description","minimum","maximum","enum"}.
nlohmann::json ParamSpecToJson(const ParamSpec& spec);

}  // namespace imagen::ops
