#include "ops/params.h"

#include "gtest/gtest.h"
#include "ops/registry.h"

namespace imagen::ops {
namespace {

std::vector<ParamSpec> Specs() {
  return {
      {.name = "scale", .type = ParamType::kInt, .default_value = "4", .min = 2, .max = 4},
      {.name = "strength", .type = ParamType::kFloat, .default_value = "0.5", .min = 0, .max = 1},
      {.name = "only_mask", .type = ParamType::kBool, .default_value = "false"},
      {.name = "model", .type = ParamType::kEnum, .default_value = "isnet", .choices = {"isnet", "isnet-small"}},
      {.name = "bgcolor", .type = ParamType::kColor, .default_value = "transparent"},
  };
}

TEST(ParamsTest, DefaultsFillEverything) {
  auto v = ValidateParams(Specs(), {});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetInt("scale"), 4);
  EXPECT_DOUBLE_EQ(v->GetFloat("strength"), 0.5);
  EXPECT_FALSE(v->GetBool("only_mask"));
  EXPECT_EQ(v->GetString("model"), "isnet");
  EXPECT_EQ(v->GetColor("bgcolor"), (Color{0, 0, 0, 0}));
  EXPECT_FALSE(v->WasGiven("scale"));
}

TEST(ParamsTest, GivenValuesAreParsed) {
  auto v = ValidateParams(Specs(), {{"scale", "2"}, {"bgcolor", "#ff8000"}, {"only_mask", "true"}});
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->GetInt("scale"), 2);
  EXPECT_EQ(v->GetColor("bgcolor"), (Color{255, 128, 0, 255}));
  EXPECT_TRUE(v->GetBool("only_mask"));
  EXPECT_TRUE(v->WasGiven("scale"));
  EXPECT_EQ(v->ToJson()["bgcolor"], "#ff8000ff");
}

struct BadCase {
  std::map<std::string, std::string> given;
  std::string message;
};

TEST(ParamsTest, BadValuesNameTheParameter) {
  const BadCase cases[] = {
      {{{"scale", "5"}}, "parameter 'scale': 5 is out of range 2..4"},
      {{{"scale", "two"}}, "parameter 'scale': expected an integer, got 'two'"},
      {{{"strength", "nan"}}, "parameter 'strength': expected a number, got 'nan'"},
      {{{"strength", "1.5"}}, "parameter 'strength': 1.5 is out of range 0..1"},
      {{{"only_mask", "perhaps"}}, "parameter 'only_mask': expected true or false, got 'perhaps'"},
      {{{"model", "u2net"}}, "parameter 'model': 'u2net' is not one of: isnet, isnet-small"},
      {{{"bgcolor", "#12"}}, "parameter 'bgcolor': '#12' is not a colour"},
      {{{"sclae", "2"}}, "unknown parameter 'sclae' (known: scale, strength, only_mask, model, bgcolor)"},
  };
  for (const auto& c : cases) {
    auto v = ValidateParams(Specs(), c.given);
    ASSERT_FALSE(v.ok()) << c.message;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(v.status().message()).find(c.message), std::string::npos) << v.status();
  }
}

class FakeOp : public Operation {
 public:
  explicit FakeOp(std::string name, std::string route) { spec_ = {.name = name, .route = route, .params = Specs()}; }
  const OpSpec& spec() const override { return spec_; }
  absl::StatusOr<ImageBlob> Run(const ImageBlob& in, const ParamValues&, const OpContext&) const override { return in; }

 private:
  OpSpec spec_;
};

TEST(RegistryTest, RegisterFindAndList) {
  OpRegistry r;
  ASSERT_TRUE(r.Register(std::make_unique<FakeOp>("upscale", "upscale")).ok());
  ASSERT_TRUE(r.Register(std::make_unique<FakeOp>("style_comic", "style/comic")).ok());
  EXPECT_EQ(r.Register(std::make_unique<FakeOp>("upscale", "x")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.Register(std::make_unique<FakeOp>("y", "style/comic")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.FindByRoute("style/comic")->spec().name, "style_comic");
  EXPECT_EQ(r.List().size(), 2u);
  auto missing = r.Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("known: upscale, style_comic"), std::string::npos);
  auto j = r.ToJson();
  EXPECT_EQ(j["operations"][1]["route"], "/api/v1/images/style/comic");
  EXPECT_EQ(j["operations"][0]["parameters"][0]["maximum"], 4);
}

}  // namespace
}  // namespace imagen::ops
