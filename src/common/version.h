// The imagen version, from CMake's project(VERSION).
#pragma once

namespace imagen {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace imagen
