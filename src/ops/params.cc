#include "ops/params.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"

namespace imagen::ops {
namespace {

absl::Status ParamError(const std::string& name, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("parameter '", name, "': ", what));
}

std::string RangeText(const ParamSpec& spec) {
  return absl::StrCat(spec.min ? absl::StrCat(*spec.min) : "-inf", "..", spec.max ? absl::StrCat(*spec.max) : "inf");
}

absl::StatusOr<ParamValue> Parse(const ParamSpec& spec, const std::string& text) {
  switch (spec.type) {
    case ParamType::kInt: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v))
        return ParamError(spec.name, absl::StrCat("expected an integer, got '", text, "'"));
      if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
        return ParamError(spec.name, absl::StrCat(v, " is out of range ", RangeText(spec)));
      }
      return ParamValue(v);
    }
    case ParamType::kFloat: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) {
        return ParamError(spec.name, absl::StrCat("expected a number, got '", text, "'"));
      }
      if ((spec.min && v < *spec.min) || (spec.max && v > *spec.max)) {
        return ParamError(spec.name, absl::StrCat(v, " is out of range ", RangeText(spec)));
      }
      return ParamValue(v);
    }
    case ParamType::kBool: {
      bool v;
      if (!absl::SimpleAtob(text, &v))
        return ParamError(spec.name, absl::StrCat("expected true or false, got '", text, "'"));
      return ParamValue(v);
    }
    case ParamType::kString:
      return ParamValue(text);
    case ParamType::kEnum:
      for (const auto& c : spec.choices) {
        if (c == text) return ParamValue(text);
      }
      return ParamError(spec.name, absl::StrCat("'", text, "' is not one of: ", absl::StrJoin(spec.choices, ", ")));
    case ParamType::kColor: {
      auto c = ParseColor(text);
      if (!c.ok()) return ParamError(spec.name, std::string(c.status().message()));
      return ParamValue(*c);
    }
  }
  return ParamError(spec.name, "unsupported type");
}

}  // namespace

const char* ParamTypeName(ParamType type) {
  switch (type) {
    case ParamType::kInt:
      return "integer";
    case ParamType::kFloat:
      return "number";
    case ParamType::kBool:
      return "boolean";
    case ParamType::kString:
      return "string";
    case ParamType::kEnum:
      return "enum";
    case ParamType::kColor:
      return "color";
  }
  return "?";
}

absl::StatusOr<Color> ParseColor(const std::string& text) {
  static const std::map<std::string, Color> kNamed = {
      {"white", {255, 255, 255, 255}}, {"black", {0, 0, 0, 255}},  {"red", {255, 0, 0, 255}},
      {"green", {0, 128, 0, 255}},     {"blue", {0, 0, 255, 255}}, {"gray", {128, 128, 128, 255}},
      {"transparent", {0, 0, 0, 0}},
  };
  std::string t = absl::AsciiStrToLower(text);
  if (auto it = kNamed.find(t); it != kNamed.end()) return it->second;
  if (!t.empty() && t[0] == '#') t = t.substr(1);
  auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a colour (#rrggbb, #rrggbbaa or a name)"));
  };
  if (t.size() != 6 && t.size() != 8) return bad();
  uint8_t ch[4] = {0, 0, 0, 255};
  for (size_t i = 0; i < t.size() / 2; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = t[i * 2 + k];
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (d < 0) return bad();
      v = v * 16 + d;
    }
    ch[i] = static_cast<uint8_t>(v);
  }
  return Color{ch[0], ch[1], ch[2], ch[3]};
}

const ParamValue& ParamValues::Get(const std::string& name) const {
  auto it = values_.find(name);
  IMAGEN_CHECK(it != values_.end(), "undeclared parameter " + name);
  return it->second;
}

int64_t ParamValues::GetInt(const std::string& name) const { return std::get<int64_t>(Get(name)); }
double ParamValues::GetFloat(const std::string& name) const { return std::get<double>(Get(name)); }
bool ParamValues::GetBool(const std::string& name) const { return std::get<bool>(Get(name)); }
const std::string& ParamValues::GetString(const std::string& name) const { return std::get<std::string>(Get(name)); }
Color ParamValues::GetColor(const std::string& name) const { return std::get<Color>(Get(name)); }

nlohmann::json ParamValues::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : values_) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, Color>) {
            char buf[10];
            std::snprintf(buf, sizeof(buf), "#%02x%02x%02x%02x", x.r, x.g, x.b, x.a);
            out[k] = buf;
          } else {
            out[k] = x;
          }
        },
        v);
  }
  return out;
}

absl::StatusOr<ParamValues> ValidateParams(const std::vector<ParamSpec>& specs,
                                           const std::map<std::string, std::string>& given) {
  ParamValues out;
  for (const auto& [name, text] : given) {
    bool known = false;
    for (const auto& s : specs) known = known || s.name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const auto& s : specs) names.push_back(s.name);
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown parameter '", name, "' (known: ", names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
    }
  }
  for (const auto& spec : specs) {
    auto it = given.find(spec.name);
    bool was_given = it != given.end();
    auto v = Parse(spec, was_given ? it->second : spec.default_value);
    if (!v.ok()) {
      IMAGEN_CHECK(was_given, "bad default for parameter " + spec.name);
      return v.status();
    }
    out.values_[spec.name] = *std::move(v);
    if (was_given) out.given_[spec.name] = true;
  }
  return out;
}

nlohmann::json ParamSpecToJson(const ParamSpec& spec) {
  nlohmann::json j = {{"name", spec.name},
                      {"type", ParamTypeName(spec.type)},
                      {"default", spec.default_value},
                      {"description", spec.description}};
  if (spec.min) j["minimum"] = *spec.min;
  if (spec.max) j["maximum"] = *spec.max;
  if (!spec.choices.empty()) j["enum"] = spec.choices;
  return j;
}

}  // namespace imagen::ops
