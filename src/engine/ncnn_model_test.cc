// Tests of the ncnn .param/.bin reader: synthetic files for each storage
// format and error path, and every real model of the waifu2x@1.6.5 package
// in the installed model repository (test_models.h: missing, it fails under
// CI=true and skips elsewhere).
#include "engine/ncnn_model.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/half.h"
#include "engine/test_models.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

std::string Bytes(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }
std::string U32(uint32_t v) { return Bytes(&v, 4); }
std::string F32(std::initializer_list<float> v) {
  std::string s;
  for (float f : v) s += Bytes(&f, 4);
  return s;
}

constexpr char kConvParam[] =
    "7767517\n"
    "2 2\n"
    "Input in 0 1 data 0=4 1=4 2=1\n"
    "Convolution conv 1 1 data out 0=2 1=1 5=1 6=2 9=2 -23310=1,0.1\n";

TEST(NcnnParam, ParsesLayersAndParams) {
  auto f = ParseNcnnParam(kConvParam);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->layers.size(), 2u);
  const NcnnLayer& conv = f->layers[1];
  EXPECT_EQ(conv.type, "Convolution");
  EXPECT_EQ(conv.bottoms, std::vector<std::string>{"data"});
  EXPECT_EQ(conv.tops, std::vector<std::string>{"out"});
  EXPECT_EQ(conv.params.GetInt(0, -1), 2);
  EXPECT_EQ(conv.params.GetInt(11, 7), 7);
  EXPECT_EQ(conv.params.GetInts(10).size(), 1u);
  EXPECT_FLOAT_EQ(conv.params.GetFloats(10)[0], 0.1f);
}

TEST(NcnnParam, NegativeArrayValues) {
  auto f = ParseNcnnParam("7767517\n1 2\nCrop c 1 1 a b -23309=2,4,4 -23310=2,-4,-4 -23311=2,-2,-1\n");
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->layers[0].params.GetInts(10), (std::vector<int>{-4, -4}));
  EXPECT_EQ(f->layers[0].params.GetInts(11), (std::vector<int>{-2, -1}));
}

TEST(NcnnParam, Errors) {
  EXPECT_FALSE(ParseNcnnParam("").ok());
  EXPECT_FALSE(ParseNcnnParam("1234\n1 1\n").ok());
  auto truncated = ParseNcnnParam("7767517\n3 3\nInput in 0 1 data\n");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("truncated"), std::string::npos);
  auto bad = ParseNcnnParam("7767517\n1 1\nReLU r 1 1 a b 0=x\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'r'"), std::string::npos);
  EXPECT_FALSE(ParseNcnnParam("7767517\n1 1\nReLU r 1 1 a b -23300=3,1,2\n").ok());
}

TEST(NcnnModel, Fp32AndFp16Weights) {
  auto graph = ParseNcnnParam(kConvParam);
  ASSERT_TRUE(graph.ok());
  std::string fp32 = U32(0) + F32({1.5f, -2.f}) + F32({0.25f, 3.f});
  auto m = ParseNcnnModel(*graph, fp32);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->weights[1].arrays[0], (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(m->weights[1].arrays[1], (std::vector<float>{0.25f, 3.f}));

  uint16_t half[2] = {0x3e00, 0xc000};  // 1.5, -2
  std::string fp16 = U32(0x01306B47) + Bytes(half, 4) + F32({0.25f, 3.f});
  m = ParseNcnnModel(*graph, fp16);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->weights[1].arrays[0], (std::vector<float>{1.5f, -2.f}));
}

TEST(NcnnModel, WeightErrorsNameTheLayer) {
  auto graph = ParseNcnnParam(kConvParam);
  ASSERT_TRUE(graph.ok());
  auto truncated = ParseNcnnModel(*graph, U32(0) + F32({1.f}));
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("'conv'"), std::string::npos) << truncated.status();
  auto trailing = ParseNcnnModel(*graph, U32(0) + F32({1.f, 2.f, 3.f, 4.f, 5.f}));
  EXPECT_FALSE(trailing.ok());
  auto int8 = ParseNcnnModel(*graph, U32(0x000D4B38) + std::string(4, '\0') + F32({1.f, 2.f}));
  EXPECT_EQ(int8.status().code(), absl::StatusCode::kUnimplemented);
  auto unknown = ParseNcnnParam("7767517\n1 1\nMagic m 0 1 a\n");
  ASSERT_TRUE(unknown.ok());
  auto um = ParseNcnnModel(*unknown, "");
  ASSERT_FALSE(um.ok());
  EXPECT_NE(um.status().message().find("Magic"), std::string::npos);
}

TEST(NcnnModel, HalfConversion) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(HalfToFloat(0x7c00)));
}

// Every ncnn model the repository holds from waifu2x@1.6.5 (its
// config.pbtxt names the package): all 29 .param files of the four model
// folders of the package.
TEST(NcnnModel, LoadsEveryPackagedModel) {
  namespace fs = std::filesystem;
  const std::string repo = test_models::Repository();
  IMAGEN_REQUIRE_TEST_DATA(repo, "the model repository");
  IMAGEN_REQUIRE_TEST_DATA(test_models::NcnnParam("realesr-animevideov3-x4"), "model realesr-animevideov3-x4");
  int loaded = 0;
  for (const auto& e : fs::directory_iterator(repo)) {
    const fs::path param = e.path() / "1" / "model.param";
    std::ifstream config(e.path() / "config.pbtxt");
    const std::string text((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
    if (text.find("npm waifu2x@1.6.5") == std::string::npos) continue;
    SCOPED_TRACE(param.string());
    fs::path bin = param;
    bin.replace_extension(".bin");
    auto m = LoadNcnnModel(param.string(), bin.string());
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_GT(m->graph.layers.size(), 3u);
    ++loaded;
  }
  EXPECT_EQ(loaded, 29) << "ncnn models of waifu2x@1.6.5 in " << repo;
}

}  // namespace
}  // namespace imagen::engine
