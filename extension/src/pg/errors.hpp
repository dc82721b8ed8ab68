// The extension's errors as C++ sees them: PgError (an SQLSTATE with message, detail and hint,
// raised as a PostgreSQL ERROR at the guard) without any PostgreSQL header, so that files outside
// extension/src/pg/ can throw and catch them (see README, "Which files touch PostgreSQL").
#pragma once

#include <exception>
#include <string>
#include <utility>

#include "engine/status.hpp"

namespace dbsync::pg {

// PostgreSQL's MAKE_SQLSTATE for a five-character code: sqlstate("22023") equals
// ERRCODE_INVALID_PARAMETER_VALUE (guard.cpp checks a few against PostgreSQL's macros).
constexpr int sqlstate(const char (&code)[6]) {
  int out = 0;
  for (int i = 0; i < 5; ++i) out += ((code[i] - '0') & 0x3F) << (6 * i);
  return out;
}

// An error from PostgreSQL (or one meant for it): SQLSTATE plus message, detail and hint.
class PgError : public std::exception {
 public:
  PgError(int sqlstate, std::string message, std::string detail = {}, std::string hint = {})
      : sqlstate_(sqlstate),
        message_(std::move(message)),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  int sqlstate() const { return sqlstate_; }
  const std::string& detail() const { return detail_; }
  const std::string& hint() const { return hint_; }

 private:
  int sqlstate_;
  std::string message_, detail_, hint_;
};

// An ERROR raised by PostgreSQL itself and caught by pg_call. Until the transaction aborts,
// PostgreSQL's state (SPI, memory contexts, locks) may be half-way: code that catches one must
// rethrow it (as a PostgresError, possibly with a better message), never carry on.
class PostgresError : public PgError {
 public:
  using PgError::PgError;
};

// The SQLSTATE for an engine error code.
int sqlstate_for(ErrorCode code);

// Throws a PgError for a failed Status (nothing when ok).
void throw_if_error(const Status& st, const std::string& context = {});

template <typename T>
T value_or_throw(Result<T> r, const std::string& context = {}) {
  if (!r.is_ok()) throw_if_error(r.status(), context);
  return std::move(r).value();
}

}  // namespace dbsync::pg
