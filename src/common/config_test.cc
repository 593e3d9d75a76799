#include "common/config.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace imagen {
namespace {

ConfigSchema TestSchema() {
  ConfigSchema s;
  s.Add({.name = "server.listen", .default_value = "127.0.0.1:8080"});
  s.Add({.name = "workers", .type = ConfigType::kInt, .default_value = "2", .min = 0, .max = 64});
  s.Add({.name = "ratio", .type = ConfigType::kDouble, .default_value = "0.5", .min = 0, .max = 1});
  s.Add({.name = "log.json", .type = ConfigType::kBool, .default_value = "false"});
  s.Add({.name = "log.level", .default_value = "info", .choices = {"debug", "info", "warn"}});
  return s;
}

class ConfigTest : public ::testing::Test {
 protected:
  std::string WriteToml(const std::string& text) {
    path_ = ::testing::TempDir() + "/config_test_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
            "_" + std::to_string(counter_++) + ".toml";
    std::ofstream(path_) << text;
    return path_;
  }
  ~ConfigTest() override {
    if (!path_.empty()) std::remove(path_.c_str());
  }
  std::string path_;
  int counter_ = 0;
};

TEST_F(ConfigTest, DefaultsApplyWhenNothingIsSet) {
  auto c = Config::Load(TestSchema(), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetString("server.listen"), "127.0.0.1:8080");
  EXPECT_EQ(c->GetInt("workers"), 2);
  EXPECT_DOUBLE_EQ(c->GetDouble("ratio"), 0.5);
  EXPECT_FALSE(c->GetBool("log.json"));
  EXPECT_EQ(c->SourceOf("workers"), ConfigSource::kDefault);
}

TEST_F(ConfigTest, PrecedenceIsFlagsThenEnvThenFileThenDefaults) {
  ConfigInputs in;
  in.toml_path = WriteToml("workers = 3\nratio = 0.25\n[server]\nlisten = \"0.0.0.0:1\"\n[log]\njson = true\n");
  in.env = {{"IMAGEN_WORKERS", "5"}, {"IMAGEN_SERVER_LISTEN", "10.0.0.1:2"}, {"PATH", "/bin"}};
  in.flags = {{"workers", "7"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->GetInt("workers"), 7);  // flag beats env and file
  EXPECT_EQ(c->SourceOf("workers"), ConfigSource::kFlag);
  EXPECT_EQ(c->GetString("server.listen"), "10.0.0.1:2");  // env beats file
  EXPECT_EQ(c->SourceOf("server.listen"), ConfigSource::kEnv);
  EXPECT_DOUBLE_EQ(c->GetDouble("ratio"), 0.25);  // file beats default
  EXPECT_EQ(c->SourceOf("ratio"), ConfigSource::kFile);
  EXPECT_TRUE(c->GetBool("log.json"));
  EXPECT_EQ(c->GetString("log.level"), "info");  // default
}

TEST_F(ConfigTest, TomlIntegerIsAcceptedForDouble) {
  ConfigInputs in;
  in.toml_path = WriteToml("ratio = 1\n");
  auto c = Config::Load(TestSchema(), in);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->GetDouble("ratio"), 1.0);
}

TEST_F(ConfigTest, UnknownKeyInFileNamesFileLineAndKey) {
  ConfigInputs in;
  in.toml_path = WriteToml("workers = 3\n[server]\nlisen = \"x\"\n");
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(in.toml_path + ":3"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("unknown configuration key 'server.lisen'"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, WrongTypeInFileIsAnError) {
  ConfigInputs in;
  in.toml_path = WriteToml("workers = \"many\"\n");
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'workers' expects an integer"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find(":1"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, TomlSyntaxErrorNamesTheLine) {
  ConfigInputs in;
  in.toml_path = WriteToml("workers = 3\nthis is not toml\n");
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(in.toml_path + ":2"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, MissingFileIsAnError) {
  ConfigInputs in;
  in.toml_path = ::testing::TempDir() + "/does-not-exist.toml";
  EXPECT_FALSE(Config::Load(TestSchema(), in).ok());
}

TEST_F(ConfigTest, UnknownImagenEnvironmentVariableIsAnError) {
  ConfigInputs in;
  in.env = {{"IMAGEN_WORKRES", "3"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("IMAGEN_WORKRES"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, ConfigFileVariableIsNotAKey) {
  ConfigInputs in;
  in.env = {{"IMAGEN_CONFIG", "/somewhere.toml"}, {"HOME", "/root"}};
  EXPECT_TRUE(Config::Load(TestSchema(), in).ok());
}

TEST_F(ConfigTest, BadEnvironmentValueNamesVariable) {
  ConfigInputs in;
  in.env = {{"IMAGEN_LOG_JSON", "maybe"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("IMAGEN_LOG_JSON"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("boolean"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, OutOfRangeValuesAreRejectedFromEverySource) {
  ConfigInputs flag;
  flag.flags = {{"workers", "65"}};
  auto c = Config::Load(TestSchema(), flag);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("out of range"), std::string::npos) << c.status();

  ConfigInputs env;
  env.env = {{"IMAGEN_RATIO", "1.5"}};
  EXPECT_FALSE(Config::Load(TestSchema(), env).ok());

  ConfigInputs file;
  file.toml_path = WriteToml("workers = -1\n");
  EXPECT_FALSE(Config::Load(TestSchema(), file).ok());
}

TEST_F(ConfigTest, ChoicesAreEnforced) {
  ConfigInputs in;
  in.flags = {{"log.level", "loud"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("not one of: debug, info, warn"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, UnknownFlagKeyIsAnError) {
  ConfigInputs in;
  in.flags = {{"nope", "1"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'nope'"), std::string::npos);
}

TEST_F(ConfigTest, NonNumericIntegerFlagIsAnError) {
  ConfigInputs in;
  in.flags = {{"workers", "3x"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("expects an integer, got '3x'"), std::string::npos) << c.status();
}

TEST(ConfigSchemaTest, EnvNameMapsDotsAndDashes) {
  EXPECT_EQ(ConfigSchema::EnvName("server.listen"), "IMAGEN_SERVER_LISTEN");
  EXPECT_EQ(ConfigSchema::EnvName("log.json-lines"), "IMAGEN_LOG_JSON_LINES");
}

TEST(ConfigDescribeTest, ListsValuesWithSources) {
  ConfigInputs in;
  in.flags = {{"workers", "4"}};
  auto c = Config::Load(TestSchema(), in);
  ASSERT_TRUE(c.ok());
  std::string d = c->Describe();
  EXPECT_NE(d.find("workers = 4  # flag"), std::string::npos) << d;
  EXPECT_NE(d.find("log.json = false  # default"), std::string::npos) << d;
}

}  // namespace
}  // namespace imagen
