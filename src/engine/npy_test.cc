#include "engine/npy.h"

#include "engine/half.h"
#include "gtest/gtest.h"

namespace imagen::engine {
namespace {

TEST(NpyTest, RoundTrips) {
  Tensor t(DataType::kFloat32, {2, 3});
  for (int i = 0; i < 6; ++i) t.data<float>()[i] = static_cast<float>(i) * 1.5f;
  auto bytes = SerializeNpy(t);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size() % 64, 24u);  // 64-byte aligned header + 24 bytes of data
  auto back = ParseNpy(*bytes);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back->data<float>()[i], t.data<float>()[i]);
}

TEST(NpyTest, ParsesNumpyHeaders) {
  // As numpy writes np.arange(3, dtype=np.int64).
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  header.append(128 - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  for (int64_t v : {0, 1, 2}) bytes.append(reinterpret_cast<const char*>(&v), 8);
  auto t = ParseNpy(bytes);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->dtype(), DataType::kInt64);
  EXPECT_EQ(t->data<int64_t>()[2], 2);
}

TEST(NpyTest, RejectsBadFiles) {
  EXPECT_FALSE(ParseNpy("hello").ok());
  Tensor t(DataType::kFloat32, {4});
  std::string bytes = *SerializeNpy(t);
  EXPECT_NE(ParseNpy(bytes.substr(0, bytes.size() - 1)).status().message().find("needs 16"), absl::string_view::npos);
}

TEST(HalfTest, ConvertsExactly) {
  for (float f : {0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_EQ(FloatToHalf(1.00048828125f), 0x3c00);  // tie rounds to even
  EXPECT_EQ(FloatToHalf(1e6f), 0x7c00);
}

}  // namespace
}  // namespace imagen::engine
