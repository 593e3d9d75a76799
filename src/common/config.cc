#include "common/config.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/check.h"
#include "common/status_macros.h"
#include "toml++/toml.h"

extern char** environ;

namespace imagen {
namespace {

const char* TypeName(ConfigType t) {
  switch (t) {
    case ConfigType::kString:
      return "a string";
    case ConfigType::kInt:
      return "an integer";
    case ConfigType::kDouble:
      return "a number";
    case ConfigType::kBool:
      return "a boolean";
  }
  return "?";
}

std::string TomlTypeName(const toml::node& node) {
  std::ostringstream out;
  out << node.type();
  return out.str();
}

absl::Status CheckRange(const ConfigKey& key, double v, const std::string& where) {
  if ((key.min && v < *key.min) || (key.max && v > *key.max)) {
    std::string range =
        absl::StrCat(key.min ? absl::StrCat(*key.min) : "-inf", "..", key.max ? absl::StrCat(*key.max) : "inf");
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": value ", v, " for '", key.name, "' is out of range ", range));
  }
  return absl::OkStatus();
}

absl::Status CheckChoice(const ConfigKey& key, const std::string& v, const std::string& where) {
  if (key.choices.empty()) return absl::OkStatus();
  for (const auto& c : key.choices) {
    if (c == v) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": value '", v, "' for '", key.name, "' is not one of: ", absl::StrJoin(key.choices, ", ")));
}

// Parses the textual form used by defaults, environment variables and flags.
absl::StatusOr<Config::Value> ParseText(const ConfigKey& key, const std::string& text, const std::string& where) {
  auto bad = [&]() {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", key.name, "' expects ", TypeName(key.type), ", got '", text, "'"));
  };
  switch (key.type) {
    case ConfigType::kString:
      RETURN_IF_ERROR(CheckChoice(key, text, where));
      return Config::Value(text);
    case ConfigType::kInt: {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return bad();
      RETURN_IF_ERROR(CheckRange(key, static_cast<double>(v), where));
      return Config::Value(v);
    }
    case ConfigType::kDouble: {
      double v;
      if (!absl::SimpleAtod(text, &v) || !std::isfinite(v)) return bad();
      RETURN_IF_ERROR(CheckRange(key, v, where));
      return Config::Value(v);
    }
    case ConfigType::kBool: {
      bool v;
      if (!absl::SimpleAtob(text, &v)) return bad();
      return Config::Value(v);
    }
  }
  return bad();
}

absl::StatusOr<Config::Value> FromToml(const ConfigKey& key, const toml::node& node, const std::string& where) {
  auto bad = [&]() {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": '", key.name, "' expects ", TypeName(key.type), ", got a TOML ", TomlTypeName(node)));
  };
  switch (key.type) {
    case ConfigType::kString: {
      auto v = node.value<std::string>();
      if (!v || !node.is_string()) return bad();
      RETURN_IF_ERROR(CheckChoice(key, *v, where));
      return Config::Value(*v);
    }
    case ConfigType::kInt: {
      if (!node.is_integer()) return bad();
      int64_t v = *node.value<int64_t>();
      RETURN_IF_ERROR(CheckRange(key, static_cast<double>(v), where));
      return Config::Value(v);
    }
    case ConfigType::kDouble: {
      if (!node.is_number()) return bad();
      double v = *node.value<double>();
      RETURN_IF_ERROR(CheckRange(key, v, where));
      return Config::Value(v);
    }
    case ConfigType::kBool: {
      if (!node.is_boolean()) return bad();
      return Config::Value(*node.value<bool>());
    }
  }
  return bad();
}

std::string Where(const std::string& path, const toml::node& node) {
  return absl::StrCat(path, ":", node.source().begin.line);
}

// Flattens TOML tables into dotted keys and reads each against the schema.
absl::Status ReadTable(const ConfigSchema& schema, const toml::table& table, const std::string& prefix,
                       const std::string& path, std::map<std::string, Config::Value>& out) {
  for (const auto& [k, node] : table) {
    std::string name = prefix.empty() ? std::string(k.str()) : absl::StrCat(prefix, ".", std::string(k.str()));
    if (const toml::table* sub = node.as_table()) {
      RETURN_IF_ERROR(ReadTable(schema, *sub, name, path, out));
      continue;
    }
    const ConfigKey* key = schema.Find(name);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(Where(path, node), ": unknown configuration key '", name, "'"));
    }
    ASSIGN_OR_RETURN(out[name], FromToml(*key, node, Where(path, node)));
  }
  return absl::OkStatus();
}

}  // namespace

ConfigSchema& ConfigSchema::Add(ConfigKey key) {
  IMAGEN_CHECK(Find(key.name) == nullptr, "duplicate config key " + key.name);
  keys_.push_back(std::move(key));
  return *this;
}

const ConfigKey* ConfigSchema::Find(const std::string& name) const {
  for (const auto& k : keys_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string ConfigSchema::EnvName(const std::string& key) {
  std::string out = "IMAGEN_";
  for (char c : key)
    out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const char* ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kDefault:
      return "default";
    case ConfigSource::kFile:
      return "file";
    case ConfigSource::kEnv:
      return "env";
    case ConfigSource::kFlag:
      return "flag";
  }
  return "?";
}

absl::StatusOr<Config> Config::Load(const ConfigSchema& schema, const ConfigInputs& inputs) {
  Config config;
  for (const auto& key : schema.keys()) {
    auto v = ParseText(key, key.default_value, "default");
    IMAGEN_CHECK(v.ok(), "bad default for " + key.name + ": " + v.status().ToString());
    config.entries_[key.name] = Entry{*std::move(v), ConfigSource::kDefault};
  }

  if (!inputs.toml_path.empty()) {
    toml::table parsed;
    try {
      parsed = toml::parse_file(inputs.toml_path);
    } catch (const toml::parse_error& err) {
      return absl::InvalidArgumentError(
          absl::StrCat(inputs.toml_path, ":", err.source().begin.line, ": ", std::string(err.description())));
    }
    std::map<std::string, Value> values;
    RETURN_IF_ERROR(ReadTable(schema, parsed, "", inputs.toml_path, values));
    for (auto& [k, v] : values) config.entries_[k] = Entry{std::move(v), ConfigSource::kFile};
  }

  for (const auto& [name, text] : inputs.env) {
    if (!name.starts_with("IMAGEN_") || name == kConfigFileEnv) continue;
    const ConfigKey* key = nullptr;
    for (const auto& k : schema.keys()) {
      if (ConfigSchema::EnvName(k.name) == name) key = &k;
    }
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment: unknown variable ", name, " (no configuration key maps to it)"));
    }
    ASSIGN_OR_RETURN(Value v, ParseText(*key, text, absl::StrCat("environment ", name)));
    config.entries_[key->name] = Entry{std::move(v), ConfigSource::kEnv};
  }

  for (const auto& [name, text] : inputs.flags) {
    const ConfigKey* key = schema.Find(name);
    if (key == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("flag: unknown configuration key '", name, "'"));
    }
    ASSIGN_OR_RETURN(Value v, ParseText(*key, text, absl::StrCat("flag ", name)));
    config.entries_[name] = Entry{std::move(v), ConfigSource::kFlag};
  }
  return config;
}

std::map<std::string, std::string> Config::ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

const Config::Entry& Config::Lookup(const std::string& key) const {
  auto it = entries_.find(key);
  IMAGEN_CHECK(it != entries_.end(), "undeclared config key " + key);
  return it->second;
}

const std::string& Config::GetString(const std::string& key) const { return std::get<std::string>(Lookup(key).value); }
int64_t Config::GetInt(const std::string& key) const { return std::get<int64_t>(Lookup(key).value); }
double Config::GetDouble(const std::string& key) const { return std::get<double>(Lookup(key).value); }
bool Config::GetBool(const std::string& key) const { return std::get<bool>(Lookup(key).value); }
ConfigSource Config::SourceOf(const std::string& key) const { return Lookup(key).source; }

std::string Config::Describe() const {
  std::ostringstream out;
  out << std::boolalpha;
  for (const auto& [k, e] : entries_) {
    out << k << " = ";
    std::visit([&](const auto& v) { out << v; }, e.value);
    out << "  # " << ConfigSourceName(e.source) << "\n";
  }
  return out.str();
}

}  // namespace imagen
