// The boundary between C++ and PostgreSQL. Two rules hold everywhere in the extension:
//  1. No C++ exception reaches PostgreSQL. Every SQL-callable function is declared with
//     DBSYNC_FUNCTION(name): a tiny exported C entry calls name_cpp inside a try/catch; the
//     message is copied out, the catch block ends (so every C++ destructor has run), and only
//     then is ereport(ERROR) raised.
//  2. No ereport/longjmp crosses a live C++ frame. Every call from C++ into PostgreSQL that may
//     raise an ERROR goes through pg_call(): it sets its own sigsetjmp, and on an ERROR restores
//     the exception stack, copies the error data, flushes the error state and rethrows it as a
//     PgError, which unwinds C++ normally.
// The lambda given to pg_call must only call PostgreSQL (C) functions: a C++ object with a
// destructor created inside it would be jumped over.
#pragma once

// C++ standard and engine headers come before any PostgreSQL header: port.h redefines
// snprintf and friends, c.h defines Min/Max.
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "engine/status.hpp"
#include "extension/src/pg/errors.hpp"

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace dbsync::pg {

[[noreturn]] void rethrow_postgres_error(MemoryContext caller_context);

// Runs `f` (calls into PostgreSQL only), turning an ERROR into a PgError.
template <typename F>
auto pg_call(F&& f) -> decltype(f()) {
  MemoryContext caller_context = CurrentMemoryContext;
  sigjmp_buf* saved_stack = PG_exception_stack;
  ErrorContextCallback* saved_context = error_context_stack;
  sigjmp_buf local;
  if (sigsetjmp(local, 0) != 0) {
    PG_exception_stack = saved_stack;
    error_context_stack = saved_context;
    rethrow_postgres_error(caller_context);
  }
  PG_exception_stack = &local;
  if constexpr (std::is_void_v<decltype(f())>) {
    f();
    PG_exception_stack = saved_stack;
  } else {
    auto result = f();
    PG_exception_stack = saved_stack;
    return result;
  }
}

// Copies what an exception says into static storage, so that the caller can leave the catch
// block (running every destructor) before raising the PostgreSQL error.
struct CaughtError {
  int sqlstate = ERRCODE_INTERNAL_ERROR;
  char message[2048] = {0};
  char detail[1024] = {0};
  char hint[512] = {0};
};
void capture(CaughtError& out, const std::exception_ptr& e) noexcept;
[[noreturn]] void raise(const CaughtError& e, const char* function);

template <Datum (*Body)(FunctionCallInfo)>
Datum invoke_guarded(FunctionCallInfo fcinfo, const char* function) {
  static CaughtError caught;
  try {
    return Body(fcinfo);
  } catch (...) {
    capture(caught, std::current_exception());
  }
  raise(caught, function);
}

}  // namespace dbsync::pg

// Declares an SQL-callable function whose C++ body follows:
//   DBSYNC_FUNCTION(dbsync_version) { return CStringGetTextDatum("0.1.0"); }
#define DBSYNC_FUNCTION(name)                                                 \
  extern "C" {                                                                \
  PGDLLEXPORT PG_FUNCTION_INFO_V1(name);                                      \
  }                                                                           \
  static Datum name##_cpp(PG_FUNCTION_ARGS);                                  \
  extern "C" Datum name(PG_FUNCTION_ARGS) {                                   \
    return ::dbsync::pg::invoke_guarded<name##_cpp>(fcinfo, #name);           \
  }                                                                           \
  static Datum name##_cpp(PG_FUNCTION_ARGS)
