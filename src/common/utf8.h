// UTF-8 validation and repair for every string that may reach JSON, a log
// line or a metrics label (error messages, echoed parameters, paths, URLs).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace imagen {

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code
// points above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `s` with each maximal ill-formed subsequence replaced by U+FFFD, as the
// Unicode standard recommends (W3C/WHATWG "replacement" decoding).
std::string ToValidUtf8(std::string_view s);

}  // namespace imagen
