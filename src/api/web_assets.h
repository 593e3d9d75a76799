// The web UI's files (web/*), embedded at build time by web_embed.cmake into
// a generated web_assets.cc. Immutable data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace imagen::api {

struct WebAsset {
  std::string_view name;    // served name: "index.html" or "<stem>.<hash>.<ext>"
  std::string_view source;  // the file under web/, e.g. "app.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, from the served bytes
  std::string_view data;
};

std::span<const WebAsset> WebAssets();

}  // namespace imagen::api
