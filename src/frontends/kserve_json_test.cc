#include "frontends/kserve_json.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace imagen::frontends {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<serving::InferRequest> Parse(const std::string& body) {
  bool binary_default;
  std::vector<std::string> binary, plain;
  return ParseInferRequest(body, std::nullopt, "identity", "", &binary_default, &binary, &plain);
}

// Issue 16 item 1: "data" nested 100,000 deep overflowed the stack (SIGSEGV)
// in the recursive flattening and in nlohmann's recursive parser.
TEST(KServeJson, DeeplyNestedDataIsRejected) {
  const size_t depth = 100000;
  std::string body = R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1],"data":)";
  body += std::string(depth, '[') + "1" + std::string(depth, ']') + "}]}";
  auto r = Parse(body);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("nesting deeper than 100"));
  // Unbalanced (never closed) nesting too, anywhere in the document.
  EXPECT_FALSE(Parse("{\"id\":" + std::string(depth, '{')).ok());
}

TEST(KServeJson, ModerateNestingAndBracketsInStringsAreFine) {
  std::string body = R"({"id":"[[[[{{{{\"]]","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1,1,1],)"
                     R"("data":[[[[2.5]]]]}]})";
  auto r = Parse(body);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "[[[[{{{{\"]]");
  ASSERT_EQ(r->inputs.size(), 1u);
  EXPECT_EQ(r->inputs[0].data.size(), 4u);
  std::string nested = std::string(90, '[') + "1" + std::string(90, ']');
  EXPECT_TRUE(Parse(R"({"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1],"data":)" + nested + "}]}").ok());
  EXPECT_FALSE(JsonDepthExceeds("[[]]", 2));
  EXPECT_TRUE(JsonDepthExceeds("[[[]]]", 2));
  EXPECT_FALSE(JsonDepthExceeds(R"(["[[[[", "\\", "\"[[["])", 1));
}

TEST(KServeJson, OutOfRangeNumbersAndBadParametersAreErrorsNotUndefinedCasts) {
  auto body = [](const std::string& dt, const std::string& data, const std::string& params = "{}") {
    return R"({"parameters":)" + params + R"(,"inputs":[{"name":"X","datatype":")" + dt + R"(","shape":[1],"data":[)" +
           data + "]}]}";
  };
  EXPECT_FALSE(Parse(body("INT8", "300")).ok());
  EXPECT_FALSE(Parse(body("UINT32", "-1")).ok());
  EXPECT_FALSE(Parse(body("INT64", "18446744073709551615")).ok());
  EXPECT_FALSE(Parse(body("INT32", "1.5")).ok());
  EXPECT_TRUE(Parse(body("UINT64", "18446744073709551615")).ok());
  auto f = Parse(body("FP32", "1e300"));
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(Parse(body("FP32", "1", R"({"priority":-1})")).ok());
  EXPECT_FALSE(Parse(body("FP32", "1", R"({"timeout":"soon"})")).ok());
  auto p = Parse(body("FP32", "1", R"({"priority":4294967296})"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->priority, 4294967296ull);
  EXPECT_FALSE(Parse(R"({"inputs":[{"name":"X","datatype":"FP32","shape":[-1],"data":[]}]})").ok());
  EXPECT_FALSE(Parse(R"({"inputs":[{"name":"X","datatype":"FP32","shape":[18446744073709551615],"data":[]}]})").ok());
}

TEST(KServeJson, InvalidUtf8InOutputsIsReplacedNotThrown) {
  serving::InferResponse resp;
  resp.model_name = "m\xff";
  serving::Tensor t{"OUT", "BYTES", {1}, std::string("\x02\0\0\0\xc3\x28", 6)};
  resp.outputs.push_back(t);
  EncodedResponse enc = EncodeInferResponse(resp, false, {}, {});
  EXPECT_THAT(enc.body, HasSubstr("\xEF\xBF\xBD"));
  EXPECT_EQ(ErrorJson("bad \xff name"), "{\"error\":\"bad \xEF\xBF\xBD name\"}");
}

inference::ModelConfig OneInput(inference::DataType type, std::vector<int64_t> dims, int max_batch = 0) {
  inference::ModelConfig c;
  c.set_name("m");
  c.set_max_batch_size(max_batch);
  auto* in = c.add_input();
  in->set_name("IN");
  in->set_data_type(type);
  for (int64_t d : dims) in->add_dims(d);
  return c;
}

TEST(KServeJson, RawBinaryRequestDeducesTheOneInput) {
  auto r = ParseRawInferRequest(std::string(24, '\0'), OneInput(inference::TYPE_FP32, {2, -1}, 8), "m", "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->inputs[0].name, "IN");
  EXPECT_EQ(r->inputs[0].datatype, "FP32");
  EXPECT_EQ(r->inputs[0].shape, (std::vector<int64_t>{1, 2, 3}));
  auto fixed = ParseRawInferRequest(std::string(8, '\0'), OneInput(inference::TYPE_INT32, {2}), "m", "1");
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->inputs[0].shape, (std::vector<int64_t>{2}));
  auto bytes = ParseRawInferRequest("abc", OneInput(inference::TYPE_STRING, {1}), "m", "");
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->inputs[0].data, std::string("\3\0\0\0abc", 7));
  EXPECT_FALSE(ParseRawInferRequest("abc", OneInput(inference::TYPE_STRING, {-1}), "m", "").ok());
  EXPECT_FALSE(ParseRawInferRequest("", OneInput(inference::TYPE_FP32, {-1, -1}), "m", "").ok());
  EXPECT_FALSE(ParseRawInferRequest("", OneInput(inference::TYPE_FP32, {0, -1}), "m", "").ok());
  inference::ModelConfig two = OneInput(inference::TYPE_FP32, {1});
  *two.add_input() = two.input(0);
  EXPECT_THAT(std::string(ParseRawInferRequest("", two, "m", "").status().message()), HasSubstr("exactly one input"));
}

}  // namespace
}  // namespace imagen::frontends
