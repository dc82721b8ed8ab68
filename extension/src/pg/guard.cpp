#include "extension/src/pg/guard.hpp"

extern "C" {
#include "utils/errcodes.h"
}

namespace dbsync::pg {

// errors.hpp's sqlstate() is PostgreSQL's MAKE_SQLSTATE.
static_assert(sqlstate("22023") == ERRCODE_INVALID_PARAMETER_VALUE);
static_assert(sqlstate("XX000") == ERRCODE_INTERNAL_ERROR);
static_assert(sqlstate("55000") == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE);
static_assert(sqlstate("42P01") == ERRCODE_UNDEFINED_TABLE);
static_assert(sqlstate("42704") == ERRCODE_UNDEFINED_OBJECT);
static_assert(sqlstate("42501") == ERRCODE_INSUFFICIENT_PRIVILEGE);

int sqlstate_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return ERRCODE_SUCCESSFUL_COMPLETION;
    case ErrorCode::kInvalidArgument: return ERRCODE_INVALID_PARAMETER_VALUE;
    case ErrorCode::kNotFound: return ERRCODE_UNDEFINED_OBJECT;
    case ErrorCode::kTypeMismatch: return ERRCODE_DATATYPE_MISMATCH;
    case ErrorCode::kOutOfRange: return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
    case ErrorCode::kParseError: return ERRCODE_SYNTAX_ERROR;
    case ErrorCode::kEvaluation: return ERRCODE_DATA_EXCEPTION;
    case ErrorCode::kOrdering: return ERRCODE_CARDINALITY_VIOLATION;
    case ErrorCode::kUnavailable: return ERRCODE_CONNECTION_FAILURE;
    case ErrorCode::kCancelled: return ERRCODE_QUERY_CANCELED;
    case ErrorCode::kConflict: return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
    case ErrorCode::kInternal: return ERRCODE_INTERNAL_ERROR;
  }
  return ERRCODE_INTERNAL_ERROR;
}

void throw_if_error(const Status& st, const std::string& context) {
  if (st.is_ok()) return;
  throw PgError(sqlstate_for(st.code()), context.empty() ? st.message() : context + ": " + st.message());
}

void rethrow_postgres_error(MemoryContext caller_context) {
  // CopyErrorData must not run in ErrorContext; copy, flush, then leave as a C++ exception.
  MemoryContextSwitchTo(caller_context);
  ErrorData* e = CopyErrorData();
  FlushErrorState();
  PostgresError error(e->sqlerrcode, e->message ? e->message : "unknown error", e->detail ? e->detail : "",
                e->hint ? e->hint : "");
  FreeErrorData(e);
  throw error;
}

namespace {
void copy_text(char* dst, size_t size, const char* src) {
  snprintf(dst, size, "%s", src ? src : "");  // PostgreSQL's snprintf (port.h)
}
}  // namespace

void capture(CaughtError& out, const std::exception_ptr& e) noexcept {
  out = CaughtError{};
  try {
    std::rethrow_exception(e);
  } catch (const PgError& pe) {
    out.sqlstate = pe.sqlstate();
    copy_text(out.message, sizeof out.message, pe.what());
    copy_text(out.detail, sizeof out.detail, pe.detail().c_str());
    copy_text(out.hint, sizeof out.hint, pe.hint().c_str());
  } catch (const std::bad_alloc&) {
    out.sqlstate = ERRCODE_OUT_OF_MEMORY;
    copy_text(out.message, sizeof out.message, "out of memory");
  } catch (const std::exception& ex) {
    copy_text(out.message, sizeof out.message, ex.what());
  } catch (...) {
    copy_text(out.message, sizeof out.message, "unknown C++ exception");
  }
}

void raise(const CaughtError& e, const char* function) {
  ereport(ERROR, (errcode(e.sqlstate), errmsg("%s", e.message),
                  e.detail[0] ? errdetail("%s", e.detail) : 0, e.hint[0] ? errhint("%s", e.hint) : 0,
                  e.sqlstate == ERRCODE_INTERNAL_ERROR ? errcontext("dbsync function %s", function) : 0));
  pg_unreachable();
}

}  // namespace dbsync::pg
