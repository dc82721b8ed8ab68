// Settings of the extension (GUCs, defined in _PG_init).
#pragma once

namespace dbsync::ext {

struct Settings {
  char* database = nullptr;         // dbsync.database
  int max_workers = 2;              // dbsync.max_workers
  char* secret_key_file = nullptr;  // dbsync.secret_key_file (superuser only)
};

extern Settings settings;
// Whether the library was loaded through shared_preload_libraries (needed for the workers).
extern bool preloaded;

}  // namespace dbsync::ext
