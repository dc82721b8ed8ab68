// Every SQL statement of the baseline (sync_state) and the table stage, in one place: when these
// tables move into the extension's catalog only this file changes.
#pragma once

#include <string>

#include "adapters/postgres/pg_connection.hpp"

namespace dbsync::pg {

struct StateSql {
  explicit StateSql(const std::string& schema) {
    const std::string s = quote_ident(schema);
    const std::string state = s + ".dbsync_state";
    const std::string stage = s + ".dbsync_stage";
    const std::string conflicts = s + ".dbsync_stage_conflicts";
    create_state = "CREATE SCHEMA IF NOT EXISTS " + s + "; CREATE TABLE IF NOT EXISTS " + state +
                   " (sync_name text NOT NULL, key bytea NOT NULL, state bytea NOT NULL, "
                   "PRIMARY KEY (sync_name, key))";
    create_stage =
        "CREATE SCHEMA IF NOT EXISTS " + s + "; CREATE TABLE IF NOT EXISTS " + stage +
        " (job text NOT NULL, seq bigserial, change bytea NOT NULL, PRIMARY KEY (job, seq)); "
        "CREATE TABLE IF NOT EXISTS " +
        conflicts +
        " (job text NOT NULL, id bigserial, conflict bytea NOT NULL, "
        "status text NOT NULL DEFAULT 'pending', PRIMARY KEY (job, id))";
    // $1 sync name, $2 page size, then the bounds present: after, upto (bytea). One text per
    // combination: an `$n IS NULL OR ...` condition would stop the index range scan.
    for (int after = 0; after < 2; ++after) {
      for (int upto = 0; upto < 2; ++upto) {
        std::string q = "SELECT key, state FROM " + state + " WHERE sync_name = $1";
        int n = 3;
        if (after) q += " AND key > $" + std::to_string(n++) + "::bytea";
        if (upto) q += " AND key <= $" + std::to_string(n++) + "::bytea";
        state_page[after][upto] = q + " ORDER BY key LIMIT $2::int";
      }
    }
    state_upsert = "INSERT INTO " + state +
                   " (sync_name, key, state) SELECT $1, u.k, u.s FROM unnest($2::bytea[], "
                   "$3::bytea[]) AS u(k, s)"
                   " ON CONFLICT (sync_name, key) DO UPDATE SET state = EXCLUDED.state";
    state_delete = "DELETE FROM " + state + " WHERE sync_name = $1 AND key = ANY($2::bytea[])";
    state_clear = "DELETE FROM " + state + " WHERE sync_name = $1";

    // Keyset pages must walk the primary key index: a table written moments ago has no
    // statistics yet, and the planner then prefers bitmap scan + sort, reading every later row
    // for each page. Set inside the page's own transaction only.
    prefer_index = "BEGIN; SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off";
    stage_put = "INSERT INTO " + stage +
                " (job, change) SELECT $1, c FROM unnest($2::bytea[]) WITH ORDINALITY AS u(c, n) "
                "ORDER BY n";
    stage_page = "SELECT seq::text AS seq_text, change FROM " + stage +
                 " WHERE job = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3::int";
    conflict_put = "INSERT INTO " + conflicts +
                   " (job, conflict) SELECT $1, c FROM unnest($2::bytea[]) WITH ORDINALITY AS u(c, "
                   "n) ORDER BY n";
    conflict_pending =
        "SELECT count(*) FROM " + conflicts + " WHERE job = $1 AND status = 'pending'";
    conflict_list = "SELECT id::text AS id_text, status, conflict FROM " + conflicts +
                    " WHERE job = $1 ORDER BY id";
    conflict_set_status =
        "UPDATE " + conflicts + " SET status = $3 WHERE job = $1 AND id = $2::bigint";
    stage_clear = "DELETE FROM " + stage + " WHERE job = $1";
    stage_ack = "DELETE FROM " + stage + " WHERE job = $1 AND seq <= $2::bigint";
    conflict_clear = "DELETE FROM " + conflicts + " WHERE job = $1";
  }

  std::string create_state, create_stage;
  std::string prefer_index;
  std::string state_page[2][2];  // [has after][has upto]
  std::string state_upsert, state_delete, state_clear;
  std::string stage_put, stage_page, stage_clear, stage_ack;
  std::string conflict_put, conflict_pending, conflict_list, conflict_set_status, conflict_clear;
};

}  // namespace dbsync::pg
