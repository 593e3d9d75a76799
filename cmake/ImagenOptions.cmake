# Compiler flags shared by every imagen target.
add_library(imagen_flags INTERFACE)
target_compile_options(imagen_flags INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter -Wno-missing-field-initializers
  # GCC 12 false positives in libstdc++ string code at -O3 (GCC bug 105329).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(IMAGEN_WERROR)
  target_compile_options(imagen_flags INTERFACE -Werror)
endif()
if(IMAGEN_SANITIZE)
  target_compile_options(imagen_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                -fno-sanitize-recover=undefined
                                                # GCC's flow analysis gives false positives under ASan.
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
                                                # and around Asio coroutine frames (GCC bug 104679-like).
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  target_link_options(imagen_flags INTERFACE -fsanitize=address,undefined)
endif()
if(IMAGEN_TSAN)
  if(IMAGEN_SANITIZE)
    message(FATAL_ERROR "IMAGEN_TSAN and IMAGEN_SANITIZE (ASan) cannot be combined")
  endif()
  target_compile_options(imagen_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-tsan>
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>
                                                $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
  target_link_options(imagen_flags INTERFACE -fsanitize=thread)
endif()
if(IMAGEN_THREAD_SAFETY)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "IMAGEN_THREAD_SAFETY needs clang (CXX=clang++)")
  endif()
  target_compile_options(imagen_flags INTERFACE -Wthread-safety -Wthread-safety-beta)
endif()

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()
