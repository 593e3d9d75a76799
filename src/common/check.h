// Invariant checks for programming errors (never for user input, which gets a
// Status). Prints the condition and message to stderr and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#define IMAGEN_CHECK(cond, msg)                                                                                   \
  do {                                                                                                            \
    if (!(cond)) {                                                                                                \
      std::fprintf(stderr, "%s:%d: check failed: %s: %s\n", __FILE__, __LINE__, #cond, std::string(msg).c_str()); \
      std::abort();                                                                                               \
    }                                                                                                             \
  } while (0)
