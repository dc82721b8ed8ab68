// PostgreSQL's types as opaque names, for headers that files outside extension/src/pg/ include
// (the same typedefs as PostgreSQL's headers, so both may be seen in one file): such a file can
// hold and pass a Datum, an Oid or a MemoryContext, never look inside one.
#pragma once

#include <cstdint>

extern "C" {
typedef unsigned int Oid;                                   // postgres_ext.h
typedef uintptr_t Datum;                                    // postgres.h
typedef struct MemoryContextData* MemoryContext;            // utils/palloc.h
typedef struct FunctionCallInfoBaseData* FunctionCallInfo;  // fmgr.h
}

struct _SPI_plan;  // executor/spi.h: a prepared statement
