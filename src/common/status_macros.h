// Early-return helpers for absl::Status / absl::StatusOr, in the style of
// Abseil's internal macros. Thread-safe: pure macros.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define IMAGEN_CONCAT_INNER_(a, b) a##b
#define IMAGEN_CONCAT_(a, b) IMAGEN_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status imagen_status_ = (expr);          \
    if (!imagen_status_.ok()) return imagen_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, rexpr): evaluates a StatusOr<T>; on error returns its
// status, otherwise assigns (moves) the value into `lhs`, which may declare a
// variable (`auto x`).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  IMAGEN_ASSIGN_OR_RETURN_IMPL_(IMAGEN_CONCAT_(imagen_statusor_, __LINE__), lhs, rexpr)

#define IMAGEN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
