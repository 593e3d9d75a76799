// Configuration with one precedence rule: flags > IMAGEN_* environment >
// TOML file > defaults. Keys are declared once in a ConfigSchema (name, type,
// default, range, description); anything not declared, or a value of the wrong
// type or out of range, is an InvalidArgument error naming the key and where
// it came from. A loaded Config is immutable and thread-safe to read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace imagen {

enum class ConfigType { kString, kInt, kDouble, kBool };

struct ConfigKey {
  std::string name;  // dotted, e.g. "server.listen"; the TOML table path
  ConfigType type = ConfigType::kString;
  std::string default_value;  // parsed like a flag value
  std::string description;
  std::optional<double> min;         // kInt / kDouble only
  std::optional<double> max;         // kInt / kDouble only
  std::vector<std::string> choices;  // kString only; empty = any
};

class ConfigSchema {
 public:
  ConfigSchema& Add(ConfigKey key);
  const ConfigKey* Find(const std::string& name) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }

  // IMAGEN_FOO_BAR for "foo.bar" (dots and dashes become underscores).
  static std::string EnvName(const std::string& key);

 private:
  std::vector<ConfigKey> keys_;
};

enum class ConfigSource { kDefault, kFile, kEnv, kFlag };
const char* ConfigSourceName(ConfigSource source);

// Where values come from. `env` holds the whole process environment (or a
// test's); only IMAGEN_* names are read, and those must all be known.
struct ConfigInputs {
  std::string toml_path;  // empty: no file
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> flags;  // key name -> value text
};

// Environment variables that are not config keys but are still ours.
inline constexpr const char* kConfigFileEnv = "IMAGEN_CONFIG";

class Config {
 public:
  using Value = std::variant<std::string, int64_t, double, bool>;

  static absl::StatusOr<Config> Load(const ConfigSchema& schema, const ConfigInputs& inputs);
  // Captures the current process environment into a map.
  static std::map<std::string, std::string> ProcessEnvironment();

  // The Get* accessors abort on an undeclared key or wrong type: that is a
  // programming error, not user input.
  const std::string& GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  ConfigSource SourceOf(const std::string& key) const;

  // "key = value  # source" lines, sorted by key.
  std::string Describe() const;

 private:
  struct Entry {
    Value value;
    ConfigSource source;
  };
  const Entry& Lookup(const std::string& key) const;
  std::map<std::string, Entry> entries_;
};

}  // namespace imagen
