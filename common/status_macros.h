// Early-return macros for absl::Status, which Debian's Abseil 20220623 does
// not offer publicly.

#ifndef WEIR_COMMON_STATUS_MACROS_H_
#define WEIR_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/base/optimization.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr`, an absl::Status, once; if it is not OK, returns it from the
// enclosing function (which returns absl::Status or absl::StatusOr<T>).
//
//   WEIR_RETURN_IF_ERROR(store.Write(batch));
#define WEIR_RETURN_IF_ERROR(expr)                              \
  do {                                                          \
    ::absl::Status weir_status_macros_status_ = (expr);         \
    if (ABSL_PREDICT_FALSE(!weir_status_macros_status_.ok())) { \
      return weir_status_macros_status_;                        \
    }                                                           \
  } while (false)

// Evaluates `expr`, an absl::StatusOr<T>, once; if it is not OK, returns its
// status from the enclosing function, otherwise moves its value into `lhs`,
// which may declare a new variable or name an existing one:
//
//   WEIR_ASSIGN_OR_RETURN(IpAddress address, IpAddress::Parse(text));
//   WEIR_ASSIGN_OR_RETURN(options.cidr, Cidr::Parse(flag));
//
// It expands to several statements, so give it braces under an `if`; use it
// at most once per line; a type with a top-level comma in `lhs` needs an
// alias.
#define WEIR_ASSIGN_OR_RETURN(lhs, expr)                                       \
  WEIR_STATUS_MACROS_ASSIGN_OR_RETURN_(                                        \
      WEIR_STATUS_MACROS_CONCAT_(weir_status_macros_statusor_, __LINE__), lhs, \
      expr)

// Implementation details.
#define WEIR_STATUS_MACROS_ASSIGN_OR_RETURN_(statusor, lhs, expr) \
  auto statusor = (expr);                                         \
  if (ABSL_PREDICT_FALSE(!statusor.ok())) {                       \
    return std::move(statusor).status();                          \
  }                                                               \
  lhs = *std::move(statusor)

#define WEIR_STATUS_MACROS_CONCAT_(a, b) WEIR_STATUS_MACROS_CONCAT_INNER_(a, b)
#define WEIR_STATUS_MACROS_CONCAT_INNER_(a, b) a##b

#endif  // WEIR_COMMON_STATUS_MACROS_H_
