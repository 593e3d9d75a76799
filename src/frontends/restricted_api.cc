#include "frontends/restricted_api.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/string_view.h"

namespace imagen::frontends {
namespace {

constexpr std::array<const char*, kApiGroupCount> kNames = {"health",        "metadata",     "inference",
                                                            "shared-memory", "model-config", "model-repository",
                                                            "statistics",    "trace",        "logging"};

}  // namespace

const char* ApiGroupName(ApiGroup g) { return kNames[static_cast<size_t>(g)]; }

absl::Status RestrictedApis::Add(std::string_view spec) {
  absl::string_view s = ToAbsl(spec);
  size_t colon = s.find(':');
  size_t eq = colon == absl::string_view::npos ? absl::string_view::npos : s.find('=', colon);
  if (colon == absl::string_view::npos || eq == absl::string_view::npos || eq == colon + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("restricted API '", s, "': expected <group>[,<group>...]:<header key>=<value>"));
  }
  Restriction r{std::string(s.substr(colon + 1, eq - colon - 1)), std::string(s.substr(eq + 1))};
  std::vector<size_t> picked;
  for (absl::string_view name : absl::StrSplit(s.substr(0, colon), ',')) {
    std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
    size_t i = 0;
    while (i < kNames.size() && lower != kNames[i]) ++i;
    if (i == kNames.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown restricted API group '", name,
          "' (health, metadata, inference, shared-memory, model-config, model-repository, statistics, trace, "
          "logging)"));
    }
    if (groups_[i].has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("restricted API group '", lower, "' is given more than once"));
    }
    picked.push_back(i);
  }
  for (size_t i : picked) groups_[i] = r;
  return absl::OkStatus();
}

const Restriction* RestrictedApis::Find(ApiGroup g) const {
  const auto& r = groups_[static_cast<size_t>(g)];
  return r.has_value() ? &*r : nullptr;
}

absl::Status RestrictedApis::CheckHttp(ApiGroup g, std::optional<std::string_view> header) const {
  const Restriction* r = Find(g);
  if (r == nullptr || (header.has_value() && *header == r->value)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("This API is restricted, expecting header '", r->key, "'"));
}

RestrictedApis RestrictedApis::ForGrpc() const {
  RestrictedApis out = *this;
  for (auto& r : out.groups_) {
    if (r.has_value()) r->key = absl::StrCat("triton-grpc-protocol-", absl::AsciiStrToLower(r->key));
  }
  return out;
}

}  // namespace imagen::frontends
