-- dbsync: the catalog (the control plane) and the SQL API.
-- Base install script: installed as dbsync--<version>.sql (the version lives in extension/pgxs.mk).
\echo Use "CREATE EXTENSION dbsync" to load this file. \quit

-- The catalog holds connection secrets: nothing here is readable by PUBLIC. Operators get the
-- role dbsync_admin.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'dbsync_admin') THEN
    -- Roles belong to the cluster: CREATE EXTENSION running at once in two databases races here.
    BEGIN
      CREATE ROLE dbsync_admin NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END IF;
END
$$;

REVOKE ALL ON SCHEMA dbsync FROM PUBLIC;
GRANT USAGE ON SCHEMA dbsync TO dbsync_admin;

-- ---------------------------------------------------------------------------------------
-- The kinds of datasource: one table, in C++ (engine/datasource_kinds.cpp), read by the checks
-- below and by both executors; adding a kind is one line there.
CREATE FUNCTION dbsync.datasource_kinds(OUT kind text, OUT family text, OUT executor text,
                                        OUT conninfo text, OUT is_master boolean,
                                        OUT fingerprints boolean)
  RETURNS SETOF record
  LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'dbsync_datasource_kinds';
COMMENT ON FUNCTION dbsync.datasource_kinds() IS
  'The kinds of datasource: family (postgres, mysql), which executor runs their syncs (worker: the extension''s background workers; daemon: dbsyncd), the conninfo they take (none, libpq, mysql_url), whether it is the master itself, whether rows carry a version (fingerprints).';

CREATE FUNCTION dbsync.is_datasource_kind(kind text) RETURNS boolean
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT EXISTS (SELECT 1 FROM dbsync.datasource_kinds() k WHERE k.kind = $1)
$$;

-- ---------------------------------------------------------------------------------------
-- datasources: where rows live. kind 'local' is the master itself.
CREATE TABLE dbsync.datasources (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL UNIQUE
              CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
  kind        text NOT NULL
              CHECK (dbsync.is_datasource_kind(kind)),
  conninfo    bytea,                      -- AES-256-GCM ciphertext; null for 'local'
  options     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'local') = (conninfo IS NULL))
);

-- syncs: one sync configuration (source table -> target table, mapping, policy).
CREATE TABLE dbsync.syncs (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name           text NOT NULL UNIQUE
                 CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
  source_id      bigint NOT NULL REFERENCES dbsync.datasources (id),
  source_table   text NOT NULL CHECK (source_table <> ''),
  target_id      bigint NOT NULL REFERENCES dbsync.datasources (id),
  target_table   text NOT NULL CHECK (target_table <> ''),
  mapping        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(mapping) = 'object'),
  source_key     text[] NOT NULL DEFAULT '{}',
  target_key     text[] NOT NULL DEFAULT '{}',
  filter         text,
  direction      text NOT NULL DEFAULT 'one_way' CHECK (direction IN ('one_way', 'two_way')),
  strategy       text NOT NULL DEFAULT 'source_wins'
                 CHECK (strategy IN ('source_wins', 'target_wins', 'manual', 'merge', 'webhook')),
  strategy_options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(strategy_options) = 'object'),
  delete_policy  text NOT NULL DEFAULT 'propagate'
                 CHECK (delete_policy IN ('propagate', 'ignore') OR delete_policy ~ '^soft:.+$'),
  batch_size     integer NOT NULL DEFAULT 1000 CHECK (batch_size BETWEEN 1 AND 1000000),
  schedule       text,                      -- cron syntax; null: on demand only
  enabled        boolean NOT NULL DEFAULT true,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK (source_id <> target_id OR source_table <> target_table)
);

-- jobs: one run of a sync, and the queue executors claim from (FOR UPDATE SKIP LOCKED).
CREATE TABLE dbsync.jobs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sync_id       bigint NOT NULL REFERENCES dbsync.syncs (id) ON DELETE CASCADE,
  trigger       text NOT NULL CHECK (trigger ~ '^(sql|api|schedule|webhook(:[a-z0-9_-]+)?)$'),
  executor_kind text NOT NULL DEFAULT 'worker' CHECK (executor_kind IN ('worker', 'daemon')),
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'awaiting_resolution', 'committing',
                                  'succeeded', 'failed', 'cancelled')),
  phase         text,
  total         bigint,
  scanned       bigint NOT NULL DEFAULT 0,
  inserted      bigint NOT NULL DEFAULT 0,
  updated       bigint NOT NULL DEFAULT 0,
  deleted       bigint NOT NULL DEFAULT 0,
  unchanged     bigint NOT NULL DEFAULT 0,
  conflicts     bigint NOT NULL DEFAULT 0,
  errors        bigint NOT NULL DEFAULT 0,
  checkpoint    bytea,                      -- sortable target key of the last committed batch
  source_checkpoint bytea,                  -- the source key of that point
  executor      text,                       -- who runs it (worker pid, daemon host:pid)
  lease_until   timestamptz,
  attempts      integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  not_before    timestamptz NOT NULL DEFAULT now(),
  cancel_requested boolean NOT NULL DEFAULT false,
  error         text,
  queued_at     timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  CHECK ((status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);
CREATE INDEX jobs_queue_idx ON dbsync.jobs (executor_kind, not_before)
  WHERE status = 'queued';
CREATE INDEX jobs_sync_idx ON dbsync.jobs (sync_id, id DESC);
-- At most one unfinished job per sync.
CREATE UNIQUE INDEX jobs_one_active_per_sync ON dbsync.jobs (sync_id)
  WHERE status IN ('queued', 'running', 'awaiting_resolution', 'committing');

-- conflicts: what a person (or a webhook) decides.
CREATE TABLE dbsync.conflicts (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id        bigint NOT NULL REFERENCES dbsync.jobs (id) ON DELETE CASCADE,
  sync_id       bigint NOT NULL REFERENCES dbsync.syncs (id) ON DELETE CASCADE,
  key           jsonb NOT NULL,             -- the target key, readable
  kind          text NOT NULL,
  source_row    jsonb,                      -- mapped source row (target columns); null: deleted
  target_row    jsonb,                      -- null: deleted
  source_changed text[] NOT NULL DEFAULT '{}',
  target_changed text[] NOT NULL DEFAULT '{}',
  conflicting   text[] NOT NULL DEFAULT '{}',
  reason        text,
  record        bytea NOT NULL,             -- the engine's ConflictRecord (exact values)
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'resolved', 'skipped')),
  resolution    text CHECK (resolution IN ('source', 'target', 'merge', 'custom', 'skip')),
  resolved_row  jsonb,
  resolved_by   text,
  resolved_at   timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CHECK ((status = 'pending') = (resolved_at IS NULL))
);
CREATE INDEX conflicts_pending_idx ON dbsync.conflicts (sync_id, job_id) WHERE status = 'pending';

-- sync_state: the baseline, per sync and key (engine/row_codec.hpp encodings).
-- No foreign key to syncs: its check would run one query per stored key (a million-row sync
-- writes a million keys); the trigger below forgets a dropped sync's keys instead.
CREATE TABLE dbsync.sync_state (
  sync_id  bigint NOT NULL,
  key      bytea NOT NULL,                  -- encode_sortable_key: bytea order = key order
  state    bytea NOT NULL,                  -- encode_baseline
  PRIMARY KEY (sync_id, key)
);

-- Forgets the rows of a deleted sync or job in a table without a foreign key to it:
-- TG_ARGV[0] is the table (in schema dbsync), TG_ARGV[1] its column holding the id.
CREATE FUNCTION dbsync.forget_rows() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  EXECUTE format('DELETE FROM dbsync.%I WHERE %I = $1', TG_ARGV[0], TG_ARGV[1]) USING OLD.id;
  RETURN OLD;
END
$$;
CREATE TRIGGER syncs_forget_state AFTER DELETE ON dbsync.syncs
  FOR EACH ROW EXECUTE FUNCTION dbsync.forget_rows('sync_state', 'sync_id');

-- stage: a job's change set while it waits (the in-database stage; Redis when configured).
-- As sync_state: no per-row foreign key check; a trigger removes a deleted job's rows.
CREATE TABLE dbsync.stage (
  job_id   bigint NOT NULL,
  seq      bigint GENERATED ALWAYS AS IDENTITY,
  change   bytea NOT NULL,                  -- encode_change
  PRIMARY KEY (job_id, seq)
);

CREATE TRIGGER jobs_forget_stage AFTER DELETE ON dbsync.jobs
  FOR EACH ROW EXECUTE FUNCTION dbsync.forget_rows('stage', 'job_id');

-- audit: what each job applied, kept after the stage is gone. One row per applied batch and
-- side, written with the batch's baseline in the job's transaction (engine/audit.hpp): an
-- initial load of a million rows adds a thousand rows here, not a million. keys, operations and
-- fields run in step, one element per change; dbsync.audit_log shows one row per change.
-- Cheap to write in bulk (bench/extension/bench-sync's initial load: the audit insert went from
-- 12% to about 3% of the executor's CPU): keys and fields are json (their syntax checked, no
-- jsonb tree: jsonb_in of 5000 keys per batch cost more than everything else in the write),
-- operations one letter per change, the checks look at letters and small values, lz4 compresses
-- what is toasted (where the server has it). Reads (rare) convert: the view gives jsonb keys,
-- operation names and text[] fields.
CREATE TABLE dbsync.audit (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id     bigint NOT NULL REFERENCES dbsync.jobs (id) ON DELETE CASCADE,
  side       text NOT NULL CHECK (side IN ('target', 'source')),
  at         timestamptz NOT NULL DEFAULT now(),
  digest     bigint NOT NULL,             -- of the entries: a batch applied twice is kept once
  columns    text[] NOT NULL,             -- the side's mapped columns: a null fields entry = all
  keys       json NOT NULL CHECK (json_typeof(keys) = 'array'),  -- per change, the key object
  -- per change a letter: i insert, u update, d delete, s soft_delete ('iiud': 2 inserts, ...)
  operations text NOT NULL CHECK (operations ~ '^[iuds]+$'),
  -- per change the names written, or null for all (every name in columns); the json null when
  -- every change wrote every column (a batch of inserts)
  fields     json NOT NULL CHECK (json_typeof(fields) IN ('array', 'null')),
  -- The keys' count is not checked against the operations': json_array_length would parse the
  -- batch's keys a second time (json_in checks their syntax), a fifth of the write's cost.
  -- The job runners append a change's key and letter together (engine/audit.cpp); a row out of
  -- step would show NULL keys or operations in dbsync.audit_log, not break it.
  CHECK (json_typeof(fields) = 'null' OR json_array_length(fields) = octet_length(operations))
);
-- Where the server is built with lz4 (Debian's and most are): several times cheaper than pglz
-- on the toasted keys and fields; elsewhere the default stays.
DO $$
BEGIN
  ALTER TABLE dbsync.audit ALTER COLUMN keys SET COMPRESSION lz4,
    ALTER COLUMN operations SET COMPRESSION lz4, ALTER COLUMN fields SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
CREATE UNIQUE INDEX audit_job_batch_idx ON dbsync.audit (job_id, side, digest);
CREATE INDEX audit_at_idx ON dbsync.audit (at);  -- retention (dbsync.prune_audit)

-- settings: Redis connection, API tokens (hashed) and the like, for the daemon.
CREATE TABLE dbsync.settings (
  key        text PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_.]*$'),
  value      jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- pg_dump keeps the catalog's rows (not the transient stage).
SELECT pg_catalog.pg_extension_config_dump('dbsync.datasources', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.syncs', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.audit', '');
SELECT pg_catalog.pg_extension_config_dump('dbsync.settings', '');

REVOKE ALL ON ALL TABLES IN SCHEMA dbsync FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA dbsync TO dbsync_admin;
-- Secrets never leave in clear; even the ciphertext is not for operators' eyes: datasources are
-- read column by column, without conninfo (a column REVOKE cannot undo a table GRANT).
REVOKE SELECT, INSERT, UPDATE ON dbsync.datasources FROM dbsync_admin;
GRANT SELECT (id, name, kind, options, created_at, updated_at) ON dbsync.datasources TO dbsync_admin;

-- ---------------------------------------------------------------------------------------
-- Functions that need no catalog.
CREATE FUNCTION dbsync.version() RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'dbsync_version';
CREATE FUNCTION dbsync.preloaded() RETURNS boolean
  LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'dbsync_preloaded';
COMMENT ON FUNCTION dbsync.preloaded() IS
  'Whether dbsync is in shared_preload_libraries (needed for background workers and schedules).';
CREATE FUNCTION dbsync.check_expression(rule text) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'dbsync_check_expression';
COMMENT ON FUNCTION dbsync.check_expression(text) IS
  'Checks the syntax of one mapping rule; an error names the position and what was expected.';
CREATE FUNCTION dbsync.check_mapping(mapping jsonb) RETURNS text
  LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'dbsync_check_mapping';
COMMENT ON FUNCTION dbsync.check_mapping(jsonb) IS
  'Checks the shape and the expressions of a mapping document; an error names the target column.';

-- ---------------------------------------------------------------------------------------
-- Datasources API (add_datasource, alter_datasource, drop_datasource, test_datasource).
-- [section: datasources]
-- Connection secrets are sealed in C++ (AES-256-GCM, key from dbsync.secret_key_file) and never
-- come back out: dbsync_admin cannot read the conninfo column, no function or view returns it.
-- What a datasource points at, without its password, is kept beside it in clear.
ALTER TABLE dbsync.datasources ADD COLUMN endpoint text;  -- user@host:port/dbname
COMMENT ON COLUMN dbsync.datasources.endpoint IS
  'What the datasource points at (user@host:port/dbname), without secrets; null for local.';
GRANT SELECT (endpoint) ON dbsync.datasources TO dbsync_admin;

-- Validates a conninfo for its kind and encrypts it (ciphertext and endpoint only).
CREATE FUNCTION dbsync.seal_conninfo(kind text, conninfo text, OUT sealed bytea, OUT endpoint text)
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'dbsync_seal_conninfo';
COMMENT ON FUNCTION dbsync.seal_conninfo(text, text) IS
  'Internal: validates a conninfo for a datasource kind and encrypts it; returns ciphertext only.';

-- Nicer errors than the catalog's CHECK constraints, before anything is written.
CREATE FUNCTION dbsync.check_datasource_name(name text) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'datasource name must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name OPERATOR(pg_catalog.!~) '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$' THEN
    RAISE EXCEPTION 'invalid datasource name %', pg_catalog.quote_literal(name)
      USING ERRCODE = 'invalid_name',
            HINT = 'A name starts with a letter or _, then letters, digits, _ . or -; at most 63 characters.';
  END IF;
END
$$;

CREATE FUNCTION dbsync.check_datasource_options(options jsonb) RETURNS void
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t jsonb;
BEGIN
  IF pg_catalog.jsonb_typeof(options) OPERATOR(pg_catalog.<>) 'object' THEN
    RAISE EXCEPTION 'datasource options must be a JSON object, not %', pg_catalog.jsonb_typeof(options)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  t := options OPERATOR(pg_catalog.->) 'connect_timeout';
  IF t IS NOT NULL AND (pg_catalog.jsonb_typeof(t) OPERATOR(pg_catalog.<>) 'number'
      OR t::text::numeric OPERATOR(pg_catalog.<=) 0 OR t::text::numeric OPERATOR(pg_catalog.>) 3600) THEN
    RAISE EXCEPTION 'option connect_timeout must be a number of seconds, more than 0 and at most 3600'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END
$$;

-- dbsync.add_datasource: registers a datasource; returns its id.
CREATE FUNCTION dbsync.add_datasource(name text, kind text, conninfo text DEFAULT NULL,
                                      options jsonb DEFAULT '{}') RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_sealed bytea;
  v_endpoint text;
  new_id bigint;
BEGIN
  PERFORM dbsync.check_datasource_name(name);
  IF kind IS NULL THEN
    RAISE EXCEPTION 'datasource kind must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT dbsync.is_datasource_kind(kind) THEN
    RAISE EXCEPTION 'unknown datasource kind %', pg_catalog.quote_literal(kind)
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Kinds: ' OPERATOR(pg_catalog.||)
                   (SELECT pg_catalog.string_agg(k.kind, ', ' ORDER BY k.n)
                      FROM dbsync.datasource_kinds() WITH ORDINALITY
                           AS k(kind, family, executor, conninfo, is_master, fingerprints, n))
                   OPERATOR(pg_catalog.||) '.';
  END IF;
  options := COALESCE(options, '{}'::jsonb);
  PERFORM dbsync.check_datasource_options(options);
  IF kind OPERATOR(pg_catalog.=) 'local' AND conninfo IS NOT NULL THEN
    RAISE EXCEPTION 'a local datasource takes no conninfo: it is this server'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF kind OPERATOR(pg_catalog.<>) 'local' AND conninfo IS NULL THEN
    RAISE EXCEPTION 'a % datasource needs a conninfo', kind
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF EXISTS (SELECT 1 FROM dbsync.datasources d WHERE d.name OPERATOR(pg_catalog.=) add_datasource.name) THEN
    RAISE EXCEPTION 'datasource "%" already exists', name USING ERRCODE = 'duplicate_object';
  END IF;
  IF conninfo IS NOT NULL THEN
    SELECT sc.sealed, sc.endpoint INTO v_sealed, v_endpoint
      FROM dbsync.seal_conninfo(kind, conninfo) sc;
  END IF;
  INSERT INTO dbsync.datasources (name, kind, conninfo, endpoint, options)
    VALUES (name, kind, v_sealed, v_endpoint, options)
    RETURNING id INTO new_id;
  RETURN new_id;
END
$$;
COMMENT ON FUNCTION dbsync.add_datasource(text, text, text, jsonb) IS
  'Registers a datasource (kind local, postgres, supabase, neon, mysql, wordpress); the conninfo is stored encrypted.';

-- dbsync.alter_datasource: replaces the conninfo and/or the options, renames; null: unchanged.
CREATE FUNCTION dbsync.alter_datasource(name text, conninfo text DEFAULT NULL,
                                        options jsonb DEFAULT NULL, new_name text DEFAULT NULL)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d record;
  v_sealed bytea;
  v_endpoint text;
BEGIN
  PERFORM dbsync.check_datasource_name(name);
  SELECT ds.id, ds.kind INTO d FROM dbsync.datasources ds
    WHERE ds.name OPERATOR(pg_catalog.=) alter_datasource.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'datasource "%" does not exist', name USING ERRCODE = 'undefined_object';
  END IF;
  IF new_name IS NOT NULL THEN
    PERFORM dbsync.check_datasource_name(new_name);
    IF EXISTS (SELECT 1 FROM dbsync.datasources ds WHERE ds.name OPERATOR(pg_catalog.=) new_name
                                                    AND ds.id OPERATOR(pg_catalog.<>) d.id) THEN
      RAISE EXCEPTION 'datasource "%" already exists', new_name USING ERRCODE = 'duplicate_object';
    END IF;
  END IF;
  IF options IS NOT NULL THEN
    PERFORM dbsync.check_datasource_options(options);
  END IF;
  IF conninfo IS NOT NULL THEN
    IF d.kind OPERATOR(pg_catalog.=) 'local' THEN
      RAISE EXCEPTION 'a local datasource takes no conninfo: it is this server'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT sc.sealed, sc.endpoint INTO v_sealed, v_endpoint
      FROM dbsync.seal_conninfo(d.kind, conninfo) sc;
    UPDATE dbsync.datasources SET conninfo = v_sealed, endpoint = v_endpoint
      WHERE id OPERATOR(pg_catalog.=) d.id;
  END IF;
  UPDATE dbsync.datasources
     SET name = COALESCE(new_name, alter_datasource.name),
         options = COALESCE(alter_datasource.options, datasources.options),
         updated_at = pg_catalog.now()
   WHERE id OPERATOR(pg_catalog.=) d.id;
END
$$;
COMMENT ON FUNCTION dbsync.alter_datasource(text, text, jsonb, text) IS
  'Changes a datasource: a new conninfo (encrypted), new options (replacing the old), a new name.';

-- dbsync.drop_datasource: refuses while syncs use the datasource.
CREATE FUNCTION dbsync.drop_datasource(name text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ds_id bigint;
  users text;
BEGIN
  PERFORM dbsync.check_datasource_name(name);
  SELECT ds.id INTO ds_id FROM dbsync.datasources ds
    WHERE ds.name OPERATOR(pg_catalog.=) drop_datasource.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'datasource "%" does not exist', name USING ERRCODE = 'undefined_object';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(s.name), ', ' ORDER BY s.name) INTO users
    FROM dbsync.syncs s
   WHERE s.source_id OPERATOR(pg_catalog.=) ds_id OR s.target_id OPERATOR(pg_catalog.=) ds_id;
  IF users IS NOT NULL THEN
    RAISE EXCEPTION 'datasource "%" is used by syncs: %', name, users
      USING ERRCODE = 'dependent_objects_still_exist',
            HINT = 'Drop those syncs (dbsync.drop_sync) or point them elsewhere first.';
  END IF;
  DELETE FROM dbsync.datasources WHERE id OPERATOR(pg_catalog.=) ds_id;
END
$$;
COMMENT ON FUNCTION dbsync.drop_datasource(text) IS
  'Removes a datasource; refused while syncs use it.';

-- dbsync.test_datasource: connects (remote: libpq without blocking the backend, option
-- connect_timeout in seconds, default 10) and reports; an unreachable server is ok = false.
CREATE FUNCTION dbsync.test_datasource(name text)
  RETURNS TABLE (ok boolean, server_version text, latency_ms double precision, error text)
  LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS 'MODULE_PATHNAME', 'dbsync_test_datasource';
COMMENT ON FUNCTION dbsync.test_datasource(text) IS
  'Tests a datasource: server version and latency, or the connection error (never the password).';

CREATE VIEW dbsync.datasource_list AS
  SELECT id, name, kind, endpoint, options, created_at
    FROM dbsync.datasources;
COMMENT ON VIEW dbsync.datasource_list IS
  'The datasources without their secrets: endpoint is user@host:port/dbname.';
REVOKE ALL ON dbsync.datasource_list FROM PUBLIC;
GRANT SELECT ON dbsync.datasource_list TO dbsync_admin;
-- [end section: datasources]

-- ---------------------------------------------------------------------------------------
-- Syncs API (create_sync, alter_sync, drop_sync, map_row, preview).
-- [section: syncs]
-- Who created a sync (create_sync records GetOuterUserId()): the job runner connects to remote
-- ends for that role, so a creator that is not a superuser needs password authentication there.
ALTER TABLE dbsync.syncs ADD COLUMN created_by oid;
COMMENT ON COLUMN dbsync.syncs.created_by IS
  'Oid of the role that created the sync; remote connections made for it need a password unless it is a superuser.';

CREATE FUNCTION dbsync.create_sync(
    name text, source text, source_table text, target text, target_table text,
    mapping jsonb DEFAULT '{}', key text[] DEFAULT NULL, source_key text[] DEFAULT NULL,
    direction text DEFAULT 'one_way', strategy text DEFAULT 'source_wins',
    strategy_options jsonb DEFAULT '{}', delete_policy text DEFAULT 'propagate',
    batch_size integer DEFAULT 1000, filter text DEFAULT NULL, audit boolean DEFAULT true)
  RETURNS bigint LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_create_sync';
COMMENT ON FUNCTION dbsync.create_sync(text, text, text, text, text, jsonb, text[], text[], text, text, jsonb, text, integer, text, boolean) IS
  'Saves a sync after validating it: tables, columns, expressions (with positions), unique keys, options. Returns its id.';

CREATE FUNCTION dbsync.alter_sync(
    name text, mapping jsonb DEFAULT NULL, key text[] DEFAULT NULL, source_key text[] DEFAULT NULL,
    direction text DEFAULT NULL, strategy text DEFAULT NULL, strategy_options jsonb DEFAULT NULL,
    delete_policy text DEFAULT NULL, batch_size integer DEFAULT NULL, filter text DEFAULT NULL,
    source text DEFAULT NULL, source_table text DEFAULT NULL, target text DEFAULT NULL,
    target_table text DEFAULT NULL, audit boolean DEFAULT NULL)
  RETURNS void LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_alter_sync';
COMMENT ON FUNCTION dbsync.alter_sync(text, jsonb, text[], text[], text, text, jsonb, text, integer, text, text, text, text, text, boolean) IS
  'Changes a sync (NULL: unchanged; key => ''{}'' and filter => '''' clear) and re-validates it; a changed mapping, key or table clears its baseline.';

CREATE FUNCTION dbsync.drop_sync(name text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  sid bigint;
BEGIN
  SELECT s.id INTO sid FROM dbsync.syncs s WHERE s.name OPERATOR(pg_catalog.=) drop_sync.name FOR UPDATE;
  IF sid IS NULL THEN
    RAISE EXCEPTION 'sync "%" does not exist', drop_sync.name USING ERRCODE = 'undefined_object';
  END IF;
  IF EXISTS (SELECT 1 FROM dbsync.jobs j WHERE j.sync_id OPERATOR(pg_catalog.=) sid
             AND j.status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'awaiting_resolution', 'committing'])) THEN
    RAISE EXCEPTION 'sync "%" has a job in progress', drop_sync.name
      USING ERRCODE = 'object_in_use', HINT = 'Wait for it to finish, or cancel it.';
  END IF;
  -- jobs, conflicts, the baseline and the audit go with it (ON DELETE CASCADE).
  DELETE FROM dbsync.syncs s WHERE s.id OPERATOR(pg_catalog.=) sid;
END
$$;
COMMENT ON FUNCTION dbsync.drop_sync(text) IS
  'Drops a sync with its jobs, conflicts and baseline; refused while a job is running or awaiting resolution.';

CREATE FUNCTION dbsync.map_row(sync text, "row" jsonb) RETURNS jsonb
  LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'dbsync_map_row';
COMMENT ON FUNCTION dbsync.map_row(text, jsonb) IS
  'Maps one source row (source column -> value) through a sync''s mapping; returns target column -> value.';

-- No JIT, as in the executors: compiling each keyset page's plan (text keys read in "C" order
-- are costly enough to pass jit_above_cost) costs far more than running it.
CREATE FUNCTION dbsync.preview(sync text, lim integer DEFAULT 10) RETURNS SETOF jsonb
  LANGUAGE c STABLE SET jit = off AS 'MODULE_PATHNAME', 'dbsync_preview';
COMMENT ON FUNCTION dbsync.preview(text, integer) IS
  'The first lim rows of a sync''s local source in key order, mapped; a row that fails is {"_error": ...}.';

-- The audit trail's option (section audit), here so that dbsync.sync_list shows it:
-- create_sync(audit => false) / alter_sync(audit => ...): whether a sync's jobs keep an audit.
ALTER TABLE dbsync.syncs ADD COLUMN audit boolean NOT NULL DEFAULT true;
COMMENT ON COLUMN dbsync.syncs.audit IS
  'Whether the sync''s jobs record what they apply in dbsync.audit (create_sync / alter_sync option audit).';

-- What operators see of the syncs: names instead of ids, the baseline's size, the last job.
CREATE VIEW dbsync.sync_list AS
  SELECT s.id, s.name, src.name AS source, s.source_table, tgt.name AS target, s.target_table,
         s.mapping, s.target_key AS key, s.source_key, s.direction, s.strategy,
         s.strategy_options, s.delete_policy, s.batch_size, s.filter, s.schedule, s.enabled,
         s.audit,
         (SELECT pg_catalog.count(*) FROM dbsync.sync_state b WHERE b.sync_id OPERATOR(pg_catalog.=) s.id) AS baseline_keys,
         j.id AS last_job, j.status AS last_status, j.finished_at AS last_finished_at,
         s.created_at, s.updated_at
    FROM dbsync.syncs s
    JOIN dbsync.datasources src ON src.id OPERATOR(pg_catalog.=) s.source_id
    JOIN dbsync.datasources tgt ON tgt.id OPERATOR(pg_catalog.=) s.target_id
    LEFT JOIN LATERAL (SELECT jj.id, jj.status, jj.finished_at FROM dbsync.jobs jj
                        WHERE jj.sync_id OPERATOR(pg_catalog.=) s.id ORDER BY jj.id DESC LIMIT 1) j ON true;
REVOKE ALL ON dbsync.sync_list FROM PUBLIC;
GRANT SELECT ON dbsync.sync_list TO dbsync_admin;
-- [end section: syncs]

-- ---------------------------------------------------------------------------------------
-- Schedules (schedule, unschedule).
-- [section: schedules]
-- The launcher fires a schedule's times after last_scheduled_at; set to now() by schedule() so a
-- new schedule does not catch up on the past. Advanced to the firing moment in the transaction
-- that queues the job (compare-and-set on the old value): two launchers never fire twice.
ALTER TABLE dbsync.syncs ADD COLUMN last_scheduled_at timestamptz;
COMMENT ON COLUMN dbsync.syncs.last_scheduled_at IS
  'The schedule''s fire times up to this instant are handled (run, or missed and counted); null when not scheduled.';

CREATE FUNCTION dbsync.schedule(sync text, cron text) RETURNS timestamptz
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_schedule';
COMMENT ON FUNCTION dbsync.schedule(text, text) IS
  'Sets a sync''s cron schedule (5 fields, @daily..., optional TZ=Zone/Name prefix; UTC otherwise), stored in canonical form; returns the next fire time.';

CREATE FUNCTION dbsync.unschedule(sync text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  UPDATE dbsync.syncs s SET schedule = NULL, last_scheduled_at = NULL, updated_at = now()
   WHERE s.name OPERATOR(pg_catalog.=) unschedule.sync;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'sync "%" does not exist', unschedule.sync USING ERRCODE = 'undefined_object';
  END IF;
END
$$;
COMMENT ON FUNCTION dbsync.unschedule(text) IS
  'Removes a sync''s schedule: it runs on demand only. Jobs already queued are left alone.';

CREATE FUNCTION dbsync.next_runs(cron text, n integer DEFAULT 5, after timestamptz DEFAULT now())
  RETURNS SETOF timestamptz LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'dbsync_next_runs';
COMMENT ON FUNCTION dbsync.next_runs(text, integer, timestamptz) IS
  'The next n fire times of a cron schedule after an instant (at most 1000); validates the schedule like schedule().';
-- [end section: schedules]

-- ---------------------------------------------------------------------------------------
-- Plans (diff: what a run would do, nothing written).
-- [section: diff]
CREATE FUNCTION dbsync.diff(sync text, lim integer DEFAULT NULL)
  RETURNS TABLE (key jsonb, action text, fields text[], detail jsonb)
  LANGUAGE c VOLATILE SET jit = off AS 'MODULE_PATHNAME', 'dbsync_diff';  -- no JIT: see preview
COMMENT ON FUNCTION dbsync.diff(text, integer) IS
  'What a run of a sync with both ends local would do, one row per key that needs something (at most lim rows); nothing is written.';
-- [end section: diff]

-- ---------------------------------------------------------------------------------------
-- Jobs: run, wait, cancel, status; conflicts and their resolution. Executed by background
-- workers (both ends Postgres-family, strategy not webhook) or by dbsyncd (the rest).
-- [section: jobs]
ALTER TABLE dbsync.jobs
  ADD COLUMN step text NOT NULL DEFAULT 'run' CHECK (step IN ('run', 'commit')),
  ADD COLUMN interruptions integer NOT NULL DEFAULT 0 CHECK (interruptions >= 0),
  ADD COLUMN requested_by text,
  ADD COLUMN source_inserted bigint NOT NULL DEFAULT 0,  -- two-way: written back to the source
  ADD COLUMN source_updated bigint NOT NULL DEFAULT 0,
  ADD COLUMN source_deleted bigint NOT NULL DEFAULT 0,
  ADD COLUMN stage text NOT NULL DEFAULT 'catalog' CHECK (stage IN ('catalog', 'redis')),
  ADD COLUMN pauses integer NOT NULL DEFAULT 0 CHECK (pauses >= 0),
  ADD COLUMN stage_mark text;
COMMENT ON COLUMN dbsync.jobs.stage IS
  'Where the job''s change set and conflicts wait: catalog (dbsync.stage, dbsync.conflicts) or redis (dbsyncd, settings daemon.redis_url). Chosen when a run starts from scratch and kept to the end, whatever the settings do meanwhile; background workers never run a redis job.';
COMMENT ON COLUMN dbsync.jobs.stage_mark IS
  'A redis job''s position in its stage, committed with each checkpoint (run: changes staged and last conflict id; commit: changes applied), so that a resumed job drops what an uncommitted batch put and never applies a staged change twice.';
ALTER TABLE dbsync.jobs ADD COLUMN stage_cleared boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN dbsync.jobs.stage_cleared IS
  'A finished redis job''s keys are gone from Redis (deleted by dbsyncd after its final status, or by its janitor for jobs that ended otherwise, e.g. dbsync.cancel). False for a finished redis job: its keys may remain, and dbsyncd''s janitor deletes them.';
-- dbsyncd's janitor (sweep_redis_stages) polls for finished redis jobs whose keys remain: few
-- rows, found without reading the whole jobs table.
CREATE INDEX jobs_redis_uncleared_idx ON dbsync.jobs (id) WHERE stage = 'redis' AND NOT stage_cleared;
COMMENT ON COLUMN dbsync.jobs.pauses IS
  'How many times dbsyncd paused the job because its Redis stage was unreachable (the retry backoff doubles with each).';
COMMENT ON COLUMN dbsync.jobs.step IS
  'What an executor does with the job when it claims it: run (scan, diff, apply or stage) or commit (apply the staged change set once every conflict is decided).';
COMMENT ON COLUMN dbsync.jobs.interruptions IS
  'How many times the job''s executor died under it (the job resumed from its checkpoint).';

-- Which executor runs a sync's jobs: background workers for Postgres-family ends (the master
-- itself, remote PostgreSQL, Supabase, Neon) unless a webhook decides conflicts, or the
-- strategy is manual while dbsyncd's settings hold a Redis URL (the change set then waits in
-- Redis, which only dbsyncd reaches); dbsyncd for the rest (MySQL, WordPress, webhooks).
CREATE FUNCTION dbsync.executor_kind(sync_id bigint) RETURNS text
  LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN (SELECT k.executor FROM dbsync.datasource_kinds() k WHERE k.kind = src.kind)
                 = 'worker'
               AND (SELECT k.executor FROM dbsync.datasource_kinds() k WHERE k.kind = tgt.kind)
                 = 'worker'
               AND s.strategy <> 'webhook'
               AND NOT (s.strategy = 'manual'
                        AND EXISTS (SELECT 1 FROM dbsync.settings st
                                     WHERE st.key = 'daemon.redis_url'
                                       AND pg_catalog.jsonb_typeof(st.value) = 'string'))
              THEN 'worker' ELSE 'daemon' END
    FROM dbsync.syncs s
    JOIN dbsync.datasources src ON src.id = s.source_id
    JOIN dbsync.datasources tgt ON tgt.id = s.target_id
   WHERE s.id = executor_kind.sync_id
$$;

-- Queues a job for a sync, or returns the unfinished one it already has (one at a time per
-- sync). Used by the launcher (dbsync.run, schedules) and by dbsyncd; notifies dbsync_jobs.
CREATE FUNCTION dbsync.queue_job(sync_id bigint, trigger text, requested_by text DEFAULT NULL,
                                 OUT job_id bigint, OUT created boolean)
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
  v_kind text;
BEGIN
  v_kind := dbsync.executor_kind(queue_job.sync_id);
  IF v_kind IS NULL THEN
    RAISE EXCEPTION 'sync % does not exist', queue_job.sync_id USING ERRCODE = 'undefined_object';
  END IF;
  INSERT INTO dbsync.jobs AS j (sync_id, trigger, executor_kind, requested_by)
    VALUES (queue_job.sync_id, queue_job.trigger, v_kind, queue_job.requested_by)
    ON CONFLICT (sync_id) WHERE status IN ('queued', 'running', 'awaiting_resolution', 'committing')
    DO NOTHING
    RETURNING j.id INTO job_id;
  created := job_id IS NOT NULL;
  IF NOT created THEN
    SELECT j.id INTO job_id FROM dbsync.jobs j
     WHERE j.sync_id = queue_job.sync_id
       AND j.status IN ('queued', 'running', 'awaiting_resolution', 'committing');
  ELSE
    PERFORM pg_catalog.pg_notify('dbsync_jobs', job_id::text);
  END IF;
END
$$;
COMMENT ON FUNCTION dbsync.queue_job(bigint, text, text) IS
  'Internal (launcher, dbsyncd): queues a job for a sync or returns its unfinished job.';

-- A job as people read it.
CREATE VIEW dbsync.job_list AS
  SELECT j.id, s.name AS sync, j.trigger, j.executor_kind, j.status, j.step, j.phase, j.total,
         j.scanned, j.inserted, j.updated, j.deleted, j.unchanged, j.source_inserted,
         j.source_updated, j.source_deleted, j.conflicts,
         (SELECT count(*) FROM dbsync.conflicts c
           WHERE c.job_id = j.id AND c.status = 'pending') AS conflicts_pending,
         j.errors, j.attempts, j.interruptions, j.cancel_requested, j.executor, j.queued_at,
         j.started_at, j.finished_at,
         COALESCE(j.finished_at, now()) - j.started_at AS duration, j.error, j.requested_by
    FROM dbsync.jobs j JOIN dbsync.syncs s ON s.id = j.sync_id;
COMMENT ON VIEW dbsync.job_list IS 'Jobs with their sync''s name, progress and pending conflicts.';
GRANT SELECT ON dbsync.job_list TO dbsync_admin;

-- Conflicts as people read them (dbsync.conflicts also holds the engine's exact record).
CREATE VIEW dbsync.conflict_list AS
  SELECT c.id, s.name AS sync, c.job_id, c.key, c.kind, c.source_row, c.target_row,
         c.source_changed, c.target_changed, c.conflicting, c.reason, c.status, c.resolution,
         c.resolved_row, c.resolved_by, c.resolved_at, c.created_at
    FROM dbsync.conflicts c JOIN dbsync.syncs s ON s.id = c.sync_id;
COMMENT ON VIEW dbsync.conflict_list IS
  'Conflicts with their sync''s name: pending ones wait for dbsync.resolve or dbsync.resolve_all.';
GRANT SELECT ON dbsync.conflict_list TO dbsync_admin;

-- Internal: asks the launcher to queue a job (in its own transaction, so executors see it at
-- once, whatever the caller's transaction does next). Returns the job id.
CREATE FUNCTION dbsync.request_run(sync text, trigger text DEFAULT 'sql') RETURNS bigint
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'dbsync_request_run';
-- Internal: waits until a job is finished or waits for conflict decisions.
CREATE FUNCTION dbsync.wait_job(job bigint) RETURNS text
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'dbsync_wait_job';

-- dbsync.run: queues a job for the sync and wakes the executors; by default waits for it and
-- returns the job (finished, or awaiting_resolution when conflicts wait for a person).
CREATE FUNCTION dbsync.run(sync text, wait boolean DEFAULT true) RETURNS dbsync.job_list
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_job bigint;
  r dbsync.job_list;
BEGIN
  IF sync IS NULL OR wait IS NULL THEN
    RAISE EXCEPTION 'sync and wait must not be null' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF wait AND pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
    -- Checked before queueing: the snapshot of this transaction would never see the job move.
    RAISE EXCEPTION 'dbsync.run(wait => true) needs READ COMMITTED, not %',
                    pg_catalog.current_setting('transaction_isolation')
      USING ERRCODE = 'feature_not_supported',
            HINT = 'Use dbsync.run(sync, wait => false) and dbsync.job_status(job).';
  END IF;
  v_job := dbsync.request_run(sync);
  IF wait THEN
    PERFORM dbsync.wait_job(v_job);
  END IF;
  SELECT * INTO r FROM dbsync.job_list l WHERE l.id = v_job;
  RETURN r;
END
$$;
COMMENT ON FUNCTION dbsync.run(text, boolean) IS
  'Queues a job for a sync (or returns its unfinished one) and wakes the executors; with wait (the default) returns once the job is finished or awaits conflict decisions.';

CREATE FUNCTION dbsync.job_status(job bigint) RETURNS dbsync.job_list
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r dbsync.job_list;
BEGIN
  SELECT * INTO r FROM dbsync.job_list l WHERE l.id = job_status.job;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job % does not exist', job USING ERRCODE = 'undefined_object';
  END IF;
  RETURN r;
END
$$;
COMMENT ON FUNCTION dbsync.job_status(bigint) IS 'A job''s status, progress and counts.';

-- Who asked for a job's cancel (dbsync.cancel), for the conflicts it skips.
ALTER TABLE dbsync.jobs ADD COLUMN cancel_requested_by text;
COMMENT ON COLUMN dbsync.jobs.cancel_requested_by IS
  'Who called dbsync.cancel (session user) or the API; the cancelled job''s undecided conflicts are skipped in that name.';
-- How many of a job's conflicts a person decided where the catalog does not see them (a Redis
-- stage: dbsyncd counts its decisions here while it holds the job's row).
ALTER TABLE dbsync.jobs ADD COLUMN decisions bigint NOT NULL DEFAULT 0 CHECK (decisions >= 0);
COMMENT ON COLUMN dbsync.jobs.decisions IS
  'Conflicts of the job decided in its Redis stage (the catalog stage counts dbsync.conflicts rows that are not pending). A job with decisions is never cancelled: they are committed.';

-- Internal (dbsync.cancel and both job runners): what a cancelled job leaves. Its change set
-- is dropped from the in-database stage and its conflicts nobody decided end skipped (they can
-- no longer be decided); decided ones keep their decision. Returns how many were skipped.
CREATE FUNCTION dbsync.drop_cancelled_stage(job bigint) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM dbsync.stage s WHERE s.job_id = drop_cancelled_stage.job;
  UPDATE dbsync.conflicts c SET status = 'skipped', resolution = 'skip',
         resolved_by = COALESCE((SELECT j.cancel_requested_by FROM dbsync.jobs j
                                  WHERE j.id = drop_cancelled_stage.job), session_user) || ' (cancel)',
         resolved_at = now()
   WHERE c.job_id = drop_cancelled_stage.job AND c.status = 'pending';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION dbsync.drop_cancelled_stage(bigint) IS
  'Internal: drops a cancelled job''s in-database stage and skips its undecided conflicts.';

-- dbsync.cancel, by the job's stage:
--  - queued (not started, or requeued after an interruption or a pause), or awaiting decisions
--    with none made: ends at once; its stage is dropped, its conflicts end skipped. What earlier
--    attempts of a one-way or apply_clean job committed stays, with its baseline.
--  - running (scanning and applying, or staging for hold_all): stops before it applies or stages
--    its next batch (the executors read the request every 1024 rows and before each batch);
--    what it committed stays, with its baseline; a staging job's stage is dropped and its
--    conflicts end skipped.
--  - once a person decided any of its conflicts (awaiting the rest, queued to commit,
--    committing), or while a job commits its staged change set: refused (55000), never
--    discarding a decision; decide or skip the rest and the job commits. A requested cancel in
--    turn stops further decisions (dbsync.resolve refuses them).
CREATE FUNCTION dbsync.cancel(job bigint) RETURNS text
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_status text;
  v_step text;
  v_phase text;
  v_decided bigint;
BEGIN
  SELECT j.status, j.step, j.phase, j.decisions INTO v_status, v_step, v_phase, v_decided
    FROM dbsync.jobs j WHERE j.id = cancel.job FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job % does not exist', job USING ERRCODE = 'undefined_object';
  END IF;
  IF v_status IN ('succeeded', 'failed', 'cancelled') THEN
    RAISE EXCEPTION 'job % is already %', job, v_status
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  v_decided := v_decided + (SELECT count(*) FROM dbsync.conflicts c
                             WHERE c.job_id = cancel.job AND c.status <> 'pending');
  IF v_decided > 0 OR v_status = 'committing' OR (v_status = 'queued' AND v_step = 'commit') THEN
    RAISE EXCEPTION 'job % cannot be cancelled: % of its conflicts were decided, and a cancel would discard the decisions',
                    job, v_decided
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Decide or skip the conflicts still pending (dbsync.resolve_all(sync, ''skip'')): the job then commits.';
  END IF;
  IF v_status = 'running' AND v_phase = 'committing' THEN
    RAISE EXCEPTION 'job % cannot be cancelled: it is committing its staged change set', job
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  UPDATE dbsync.jobs j SET cancel_requested = true, cancel_requested_by = session_user
   WHERE j.id = cancel.job;
  IF v_status IN ('queued', 'awaiting_resolution') THEN
    PERFORM dbsync.drop_cancelled_stage(cancel.job);
    UPDATE dbsync.jobs j SET status = 'cancelled', finished_at = now(),
           executor = NULL, lease_until = NULL
     WHERE j.id = cancel.job;
    RETURN 'cancelled';
  END IF;
  RETURN 'cancel requested';
END
$$;
COMMENT ON FUNCTION dbsync.cancel(bigint) IS
  'Cancels a job: at once when queued or awaiting decisions, before its next batch when running (what it committed stays); a staged job''s stage is dropped and its undecided conflicts end skipped. Refused (55000) once a person decided any of its conflicts, or while it commits: a cancel never discards a decision.';

-- Decisions on conflicts (C: the engine turns a decision into the change to apply).
CREATE FUNCTION dbsync.resolve(conflict bigint, decision text, "row" jsonb DEFAULT NULL)
  RETURNS text LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_resolve';
COMMENT ON FUNCTION dbsync.resolve(bigint, text, jsonb) IS
  'Decides a pending conflict: source, target, merge, custom (with row: target columns) or skip. When the last one of a job is decided, the job commits.';
CREATE FUNCTION dbsync.resolve_all(sync text, decision text) RETURNS bigint
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'dbsync_resolve_all';
COMMENT ON FUNCTION dbsync.resolve_all(text, text) IS
  'Decides every pending conflict of a sync the same way (source, target, merge or skip); returns how many.';
-- [end section: jobs]

-- ---------------------------------------------------------------------------------------
-- The job lifecycle (internal): every write an executor makes to dbsync.jobs — the background
-- workers' (over SPI) and dbsyncd's (over libpq) — is one of these functions, as pg_cron keeps
-- its job-table access in one place. An executor names itself ('worker <pid>', 'dbsyncd
-- <host>:<pid>') and writes a job only while it holds it: a job another executor took over
-- (its lease ran out) is lost to the first one, which then writes nothing more. Not for users:
-- see docs/sql.md ("The job lifecycle").
-- [section: job lifecycle]

-- Claims the next job for an executor (FOR UPDATE SKIP LOCKED: two executors never claim the
-- same one) and leases it for lease_seconds. kind: 'worker' (worker jobs of the catalog stage),
-- 'daemon', or NULL (any: dbsyncd --executors=all). With take_over, a running or committing job
-- whose lease ran out and whose executor is a dbsyncd or nobody is taken over too (its daemon
-- died): it resumes with interruptions + 1, and one that died max_interruptions times fails
-- instead. resumed: the job was not queued (a take-over).
CREATE FUNCTION dbsync.claim_job(executor text, lease_seconds integer, kind text,
                                 take_over boolean, max_interruptions integer DEFAULT 5)
  RETURNS TABLE (id bigint, sync_id bigint, step text, checkpoint bytea, source_checkpoint bytea,
                 scanned bigint, inserted bigint, updated bigint, deleted bigint,
                 unchanged bigint, conflicts bigint, errors bigint, resumed boolean)
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET status = 'failed', finished_at = now(), executor = NULL,
         lease_until = NULL, interruptions = j.interruptions + 1,
         error = 'its executor died ' || (j.interruptions + 1) || ' times; given up'
    FROM (SELECT o.id FROM dbsync.jobs o
           WHERE claim_job.take_over AND o.status IN ('running', 'committing')
             AND o.lease_until < now() AND (o.executor IS NULL OR o.executor LIKE 'dbsyncd %')
             AND o.interruptions + 1 >= claim_job.max_interruptions
             AND (claim_job.kind IS NULL OR o.executor_kind = claim_job.kind)
             FOR UPDATE SKIP LOCKED) c
   WHERE j.id = c.id;
  UPDATE dbsync.jobs j SET
         status = CASE WHEN j.step = 'commit' THEN 'committing' ELSE 'running' END,
         interruptions = j.interruptions + CASE WHEN j.status = 'queued' THEN 0 ELSE 1 END,
         executor = claim_job.executor,
         lease_until = now() + make_interval(secs => claim_job.lease_seconds),
         attempts = j.attempts + 1, started_at = COALESCE(j.started_at, now()), error = NULL
    FROM (SELECT o.id, o.status AS was FROM dbsync.jobs o
           WHERE ((o.status = 'queued' AND o.not_before <= now())
               OR (claim_job.take_over AND o.status IN ('running', 'committing')
                   AND o.lease_until < now()
                   AND (o.executor IS NULL OR o.executor LIKE 'dbsyncd %')
                   -- one that died too often is failed above, never claimed (even when another
                   -- executor held its row while this one's failing skipped it)
                   AND o.interruptions + 1 < claim_job.max_interruptions))
             AND (claim_job.kind IS NULL OR o.executor_kind = claim_job.kind)
             -- background workers never run a job staged in Redis
             AND (claim_job.kind IS DISTINCT FROM 'worker' OR o.stage = 'catalog')
           ORDER BY o.not_before, o.id FOR UPDATE SKIP LOCKED LIMIT 1) c
   WHERE j.id = c.id
  RETURNING j.id, j.sync_id, j.step, j.checkpoint, j.source_checkpoint, j.scanned, j.inserted,
            j.updated, j.deleted, j.unchanged, j.conflicts, j.errors, c.was <> 'queued';
$$;
COMMENT ON FUNCTION dbsync.claim_job(text, integer, text, boolean, integer) IS
  'Internal (executors): claims and leases the next job for an executor.';

-- Progress after a batch, in the batch's transaction (the executor commits it): the job's counts
-- (earlier attempts' plus this one's), the source write-backs since the last report (added), the
-- checkpoint, the stage's mark (NULL keeps it) and a lease renewed from the statement's time
-- (the transaction is as old as the batch). Only while the executor holds the job. Returns
-- 'lost' (another executor took it over: write nothing more), 'cancel' (dbsync.cancel asked it
-- to stop) or 'ok'. One UPDATE: the extension calls it once per batch with a kept plan.
CREATE FUNCTION dbsync.report_progress(job bigint, executor text, phase text, scanned bigint,
                                       inserted bigint, updated bigint, deleted bigint,
                                       unchanged bigint, conflicts bigint, errors bigint,
                                       source_inserted bigint, source_updated bigint,
                                       source_deleted bigint, total bigint, checkpoint bytea,
                                       source_checkpoint bytea, lease_seconds integer,
                                       stage_mark text)
  RETURNS text LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  WITH u AS (
    UPDATE dbsync.jobs j SET phase = report_progress.phase, scanned = report_progress.scanned,
           inserted = report_progress.inserted, updated = report_progress.updated,
           deleted = report_progress.deleted, unchanged = report_progress.unchanged,
           conflicts = report_progress.conflicts, errors = report_progress.errors,
           source_inserted = j.source_inserted + report_progress.source_inserted,
           source_updated = j.source_updated + report_progress.source_updated,
           source_deleted = j.source_deleted + report_progress.source_deleted,
           total = report_progress.total, checkpoint = report_progress.checkpoint,
           source_checkpoint = report_progress.source_checkpoint,
           lease_until = clock_timestamp() + make_interval(secs => report_progress.lease_seconds),
           stage_mark = COALESCE(report_progress.stage_mark, j.stage_mark)
     WHERE j.id = report_progress.job AND j.executor = report_progress.executor
    RETURNING j.cancel_requested)
  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM u) THEN 'lost'
              WHEN (SELECT u.cancel_requested FROM u) THEN 'cancel' ELSE 'ok' END;
$$;
COMMENT ON FUNCTION dbsync.report_progress(bigint, text, text, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bigint, bytea, bytea, integer, text) IS
  'Internal (executors): records a batch''s progress and checkpoint and renews the lease; returns lost, cancel or ok.';

-- How a job ended, in the job's transaction, after its last report_progress (whose UPDATE holds
-- the job's row lock: a decision made meanwhile waits for this transaction):
--  - succeeded (error: the rows that could not be synced, or NULL), failed (error: why);
--  - cancelled: its stage is dropped and its undecided conflicts end skipped;
--  - awaiting_resolution: the job waits for decisions (step commit), or goes straight back to
--    the queue to commit when none is pending — counted in dbsync.conflicts, or given as
--    pending_conflicts by an executor whose stage is elsewhere (Redis); queued: notified.
-- Returns the status recorded, or NULL when the job is not the executor's (any more), e.g. a
-- job finished already.
CREATE FUNCTION dbsync.finish_job(job bigint, executor text, outcome text, error text DEFAULT NULL,
                                  pending_conflicts bigint DEFAULT NULL)
  RETURNS text LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_pending bigint;
  v_status text;
BEGIN
  PERFORM 1 FROM dbsync.jobs j
   WHERE j.id = finish_job.job AND j.executor = finish_job.executor AND j.finished_at IS NULL
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  CASE outcome
    WHEN 'succeeded', 'failed' THEN
      UPDATE dbsync.jobs j SET status = outcome,
             phase = CASE WHEN outcome = 'succeeded' THEN 'done' ELSE j.phase END,
             finished_at = now(), executor = NULL, lease_until = NULL, error = finish_job.error
       WHERE j.id = finish_job.job;
      v_status := outcome;
    WHEN 'cancelled' THEN
      PERFORM dbsync.drop_cancelled_stage(finish_job.job);
      UPDATE dbsync.jobs j SET status = 'cancelled', finished_at = now(), executor = NULL,
             lease_until = NULL, error = 'cancelled'
       WHERE j.id = finish_job.job;
      v_status := 'cancelled';
    WHEN 'awaiting_resolution' THEN
      v_pending := COALESCE(pending_conflicts,
                            (SELECT count(*) FROM dbsync.conflicts c
                              WHERE c.job_id = finish_job.job AND c.status = 'pending'));
      v_status := CASE WHEN v_pending > 0 THEN 'awaiting_resolution' ELSE 'queued' END;
      UPDATE dbsync.jobs j SET executor = NULL, lease_until = NULL, step = 'commit',
             status = v_status, phase = 'awaiting_resolution', not_before = now()
       WHERE j.id = finish_job.job;
      IF v_status = 'queued' THEN  -- an executor commits it at once (the NOTIFY goes at COMMIT)
        PERFORM pg_notify('dbsync_jobs', finish_job.job::text);
      END IF;
    ELSE
      RAISE EXCEPTION 'a job ends succeeded, failed, cancelled or awaiting_resolution, not %',
                      outcome USING ERRCODE = 'invalid_parameter_value';
  END CASE;
  RETURN v_status;
END
$$;
COMMENT ON FUNCTION dbsync.finish_job(bigint, text, text, text, bigint) IS
  'Internal (executors): records how a job ended; NULL when the job is not the executor''s.';

-- Back to the queue for any executor, from its last committed checkpoint (a graceful stop).
CREATE FUNCTION dbsync.release_job(job bigint, executor text) RETURNS boolean
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  WITH u AS (
    UPDATE dbsync.jobs j SET status = 'queued', executor = NULL, lease_until = NULL,
           not_before = now()
     WHERE j.id = release_job.job AND j.executor = release_job.executor
    RETURNING j.id, pg_notify('dbsync_jobs', j.id::text))
  SELECT count(*) > 0 FROM u;
$$;
COMMENT ON FUNCTION dbsync.release_job(bigint, text) IS
  'Internal (executors): puts a job the executor holds back in the queue (a graceful stop).';

-- A failure of a job the executor holds, in a transaction of its own (after the job's was rolled
-- back). Returns whether it was recorded.
CREATE FUNCTION dbsync.fail_job(job bigint, executor text, error text) RETURNS boolean
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  WITH u AS (
    UPDATE dbsync.jobs j SET status = 'failed', finished_at = now(), executor = NULL,
           lease_until = NULL, error = fail_job.error
     WHERE j.id = fail_job.job AND j.executor = fail_job.executor AND j.finished_at IS NULL
    RETURNING j.id)
  SELECT count(*) > 0 FROM u;
$$;
COMMENT ON FUNCTION dbsync.fail_job(bigint, text, text) IS
  'Internal (executors): records the failure of a job the executor holds.';

-- The stage's server (Redis) is unreachable: the job goes back to the queue (checkpoint and
-- stage kept) with a backoff of 10 s doubling with each pause up to 5 minutes, the reason in its
-- error and phase 'paused'. Returns that error, or NULL when the job is not the executor's.
CREATE FUNCTION dbsync.pause_job(job bigint, executor text, stage_server text, reason text)
  RETURNS text LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET status = 'queued', executor = NULL, lease_until = NULL,
         phase = 'paused', pauses = j.pauses + 1,
         not_before = now() + make_interval(secs => least(300, 10 * power(2, least(j.pauses, 10)))),
         error = 'paused: ' || pause_job.stage_server || ' unavailable: ' || pause_job.reason ||
                 '; retrying in ' || least(300, 10 * power(2, least(j.pauses, 10)))::int || ' s'
   WHERE j.id = pause_job.job AND j.executor = pause_job.executor AND j.finished_at IS NULL
  RETURNING j.error;
$$;
COMMENT ON FUNCTION dbsync.pause_job(bigint, text, text, text) IS
  'Internal (dbsyncd): requeues a job whose stage server is unreachable, with a backoff.';

-- The heartbeat of an executor that runs several jobs (dbsyncd): renews the leases of the jobs it
-- holds; a job row locked by its own batch is skipped (that batch renews the lease itself).
-- Returns each renewed job with whether its cancel was requested.
CREATE FUNCTION dbsync.renew_leases(jobs bigint[], executor text, lease_seconds integer)
  RETURNS TABLE (job bigint, cancel_requested boolean)
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET lease_until = now() + make_interval(secs => renew_leases.lease_seconds)
    FROM (SELECT o.id FROM dbsync.jobs o
           WHERE o.id = ANY (renew_leases.jobs) AND o.executor = renew_leases.executor
             FOR UPDATE SKIP LOCKED) c
   WHERE j.id = c.id
  RETURNING j.id, j.cancel_requested;
$$;
COMMENT ON FUNCTION dbsync.renew_leases(bigint[], text, integer) IS
  'Internal (dbsyncd): renews the leases of the jobs an executor holds; returns their cancel requests.';

-- The launcher: worker jobs whose executor died (crash, pg_terminate_backend, server restart) go
-- back to the queue and resume from their checkpoint; after max_interruptions they fail instead
-- of looping. A worker job that a dbsyncd runs (--executors=all) has no backend here: it is an
-- orphan only once its lease (renewed by the daemon's heartbeat) ran out.
CREATE FUNCTION dbsync.requeue_orphaned_jobs(max_interruptions integer DEFAULT 5)
  RETURNS TABLE (job bigint, status text, interruptions integer)
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET
         status = CASE WHEN j.interruptions + 1 >= requeue_orphaned_jobs.max_interruptions
                       THEN 'failed' ELSE 'queued' END,
         finished_at = CASE WHEN j.interruptions + 1 >= requeue_orphaned_jobs.max_interruptions
                            THEN now() END,
         error = CASE WHEN j.interruptions + 1 >= requeue_orphaned_jobs.max_interruptions
                      THEN 'its executor died ' || (j.interruptions + 1) || ' times; given up' END,
         interruptions = j.interruptions + 1, executor = NULL, lease_until = NULL,
         not_before = now()
   WHERE j.executor_kind = 'worker' AND j.status IN ('running', 'committing')
     AND CASE WHEN j.executor LIKE 'dbsyncd %' THEN j.lease_until < now()
         ELSE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                           WHERE 'worker ' || a.pid = j.executor
                             AND a.backend_type = 'dbsync executor') END
  RETURNING j.id, j.status, j.interruptions;
$$;
COMMENT ON FUNCTION dbsync.requeue_orphaned_jobs(integer) IS
  'Internal (launcher): requeues (or fails) worker jobs whose executor died.';

-- Where a fresh run's stage lives ('catalog' or 'redis'), recorded at once: resumes, commits and
-- deciders use it as is (dbsyncd chooses it from its settings).
CREATE FUNCTION dbsync.set_job_stage(job bigint, stage text) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET stage = set_job_stage.stage, stage_mark = NULL
   WHERE j.id = set_job_stage.job;
$$;
COMMENT ON FUNCTION dbsync.set_job_stage(bigint, text) IS
  'Internal (dbsyncd): records where a fresh run of a job stages its changes.';

-- Finished redis jobs whose keys are gone from Redis (dbsyncd, after the final status or by its
-- janitor). Returns how many were marked.
CREATE FUNCTION dbsync.mark_stage_cleared(jobs bigint[]) RETURNS bigint
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  WITH u AS (
    UPDATE dbsync.jobs j SET stage_cleared = true
     WHERE j.id = ANY (mark_stage_cleared.jobs) AND j.stage = 'redis'
       AND j.status IN ('succeeded', 'failed', 'cancelled')
    RETURNING 1)
  SELECT count(*) FROM u;
$$;
COMMENT ON FUNCTION dbsync.mark_stage_cleared(bigint[]) IS
  'Internal (dbsyncd): records that finished redis jobs'' keys are gone.';

-- Decisions made where the catalog does not see them (a Redis stage: dbsyncd counts them here
-- while it holds the job's row; a job with decisions is never cancelled).
CREATE FUNCTION dbsync.count_decisions(job bigint, decided bigint) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  UPDATE dbsync.jobs j SET decisions = j.decisions + count_decisions.decided
   WHERE j.id = count_decisions.job;
$$;
COMMENT ON FUNCTION dbsync.count_decisions(bigint, bigint) IS
  'Internal (dbsyncd): counts conflict decisions made in a Redis stage.';

-- A job waiting for decisions with none left pending goes back to the queue to commit, notifying
-- dbsync_jobs (at commit) so that an executor commits it at once. A catalog-stage job's pending
-- conflicts are counted here (pending_conflicts NULL); a Redis-stage job's are given by dbsyncd,
-- which decides them (NULL for one: never requeued). Returns whether it was requeued.
CREATE FUNCTION dbsync.requeue_decided_job(job bigint, pending_conflicts bigint DEFAULT NULL)
  RETURNS boolean LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
  WITH u AS (
    UPDATE dbsync.jobs j SET status = 'queued', step = 'commit', not_before = now()
     WHERE j.id = requeue_decided_job.job AND j.status = 'awaiting_resolution'
       AND CASE WHEN j.stage = 'catalog'
                THEN requeue_decided_job.pending_conflicts IS NULL
                     AND NOT EXISTS (SELECT 1 FROM dbsync.conflicts c
                                      WHERE c.job_id = j.id AND c.status = 'pending')
                ELSE requeue_decided_job.pending_conflicts = 0 END
    RETURNING j.id, pg_notify('dbsync_jobs', j.id::text))
  SELECT count(*) > 0 FROM u;
$$;
COMMENT ON FUNCTION dbsync.requeue_decided_job(bigint, bigint) IS
  'Internal (dbsync.resolve, dbsyncd): requeues a job awaiting decisions once none is pending.';
-- [end section: job lifecycle]

-- ---------------------------------------------------------------------------------------
-- The daemon's API tokens (dbsyncd): only the SHA-256 of a token is kept; the token itself is
-- shown once, when it is created.
-- [section: api]
CREATE TABLE dbsync.api_tokens (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name         text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,62}$'),
  token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
COMMENT ON TABLE dbsync.api_tokens IS
  'Bearer tokens of the dbsyncd API: SHA-256 of each token, never the token; revoked ones are kept.';
SELECT pg_catalog.pg_extension_config_dump('dbsync.api_tokens', '');
REVOKE ALL ON dbsync.api_tokens FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbsync.api_tokens TO dbsync_admin;
-- Webhook triggers (POST /webhooks/{provider}/{sync}): each sync's own secret, sealed by dbsyncd
-- with SECRET_KEY (AES-256-GCM), shown once when it is made.
CREATE TABLE dbsync.webhook_secrets (
  sync_id    bigint PRIMARY KEY REFERENCES dbsync.syncs (id) ON DELETE CASCADE,
  secret     bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE dbsync.webhook_secrets IS
  'Secrets of the webhook triggers of syncs, sealed with dbsyncd''s SECRET_KEY; never returned.';
SELECT pg_catalog.pg_extension_config_dump('dbsync.webhook_secrets', '');
REVOKE ALL ON dbsync.webhook_secrets FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON dbsync.webhook_secrets TO dbsync_admin;
-- [end section: api]

-- ---------------------------------------------------------------------------------------
-- dbsyncd's job runner: the checks a daemon asks the master for before it runs a job, so
-- that each rule keeps one implementation (the extension's).
-- [section: daemon-runner]
CREATE FUNCTION dbsync.check_sync_privileges(sync_id bigint) RETURNS void
  LANGUAGE c VOLATILE STRICT AS 'MODULE_PATHNAME', 'dbsync_check_sync_privileges';
COMMENT ON FUNCTION dbsync.check_sync_privileges(bigint) IS
  'Internal (dbsyncd): the job runner''s rule before a job runs: the sync has an owner, its local tables exist, and the owner may still read the source (and write it, two-way) and read and write the target. Raises 42704, 42P01 or 42501 naming what is wrong.';
-- [end section: daemon-runner]

-- ---------------------------------------------------------------------------------------
-- Browsing a datasource (C, extension/src/browse.cpp): tables, columns and rows in keyset
-- pages by the primary key. The master ('local') is read as the caller; remote PostgreSQL-family
-- datasources through the extension's non-blocking libpq connection. dbsyncd's
-- /api/datasources/{id}/tables... call these.
-- [section: browse]
CREATE FUNCTION dbsync.tables(datasource text, after_schema text DEFAULT NULL,
                              after_name text DEFAULT NULL, lim integer DEFAULT 100)
  RETURNS TABLE (schema text, name text, kind text, estimated_rows bigint)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_tables';
COMMENT ON FUNCTION dbsync.tables(text, text, text, integer) IS
  'Tables, views and foreign tables of a datasource that can be read, by schema and name (byte order), after (after_schema, after_name); at most lim (1..1000).';
CREATE FUNCTION dbsync.columns(datasource text, "table" text)
  RETURNS TABLE ("position" integer, name text, type text, nullable boolean,
                 key_position integer, "default" text)
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_columns';
COMMENT ON FUNCTION dbsync.columns(text, text) IS
  'The columns of a table of a datasource: type, nullability, place in the primary key, default.';
CREATE FUNCTION dbsync.rows(datasource text, "table" text, after jsonb DEFAULT NULL,
                            lim integer DEFAULT 100)
  RETURNS SETOF jsonb
  LANGUAGE c VOLATILE AS 'MODULE_PATHNAME', 'dbsync_rows';
COMMENT ON FUNCTION dbsync.rows(text, text, jsonb, integer) IS
  'Rows of a table of a datasource as JSON objects in primary key order, after the key in after (an object with the key columns, e.g. the last row of the previous page); at most lim (1..1000).';
-- [end section: browse]

-- ---------------------------------------------------------------------------------------
-- The audit trail: dbsync.audit (above) one row per applied batch and side; the option that
-- turns it off per sync; the view with one row per change; retention.
-- [section: audit]
-- The option audit (dbsync.syncs.audit) is added in the syncs section: dbsync.sync_list shows it.

-- One row per applied change: WHERE key = '{"id": 5}' gives a key's history (key and fields in
-- the sync's mapped, target-side columns, whichever side the change went to). A search by key
-- reads the audit rows it is given: narrow it by sync, job or time first on a large audit.
CREATE VIEW dbsync.audit_log AS
  SELECT a.job_id, j.sync_id, s.name AS sync, a.side, a.at, e.key::pg_catalog.jsonb AS key,
         CASE WHEN e.op OPERATOR(pg_catalog.=) 'i' THEN 'insert'
              WHEN e.op OPERATOR(pg_catalog.=) 'u' THEN 'update'
              WHEN e.op OPERATOR(pg_catalog.=) 'd' THEN 'delete'
              WHEN e.op OPERATOR(pg_catalog.=) 's' THEN 'soft_delete' END AS operation,
         CASE WHEN e.fields IS NULL
                   OR pg_catalog.json_typeof(e.fields) OPERATOR(pg_catalog.=) 'null' THEN a.columns
              ELSE ARRAY(SELECT f.t FROM pg_catalog.json_array_elements_text(e.fields)
                           WITH ORDINALITY AS f(t, n) ORDER BY f.n) END AS fields,
         a.id AS audit_id, e.n AS position
    FROM dbsync.audit a
    JOIN dbsync.jobs j ON j.id OPERATOR(pg_catalog.=) a.job_id
    JOIN dbsync.syncs s ON s.id OPERATOR(pg_catalog.=) j.sync_id
    -- fields null as a whole (every change wrote every column): no elements, padded with NULL
    CROSS JOIN LATERAL ROWS FROM (
        pg_catalog.json_array_elements(a.keys),
        pg_catalog.unnest(pg_catalog.string_to_array(a.operations, NULL)),
        pg_catalog.json_array_elements(
          CASE WHEN pg_catalog.json_typeof(a.fields) OPERATOR(pg_catalog.=) 'array'
               THEN a.fields END))
      WITH ORDINALITY AS e(key, op, fields, n);
REVOKE ALL ON dbsync.audit_log FROM PUBLIC;
GRANT SELECT ON dbsync.audit_log TO dbsync_admin;
COMMENT ON VIEW dbsync.audit_log IS
  'What jobs applied, one row per change: job, sync, side (target, or source for two-way write-backs), when, key, operation, fields written.';

-- Retention: the settings key audit.keep_days (a whole number of days, default 30; 0 keeps
-- everything). Deletes at most max_rows audit rows (batches) older than that, oldest first, and
-- returns how many: the launcher calls it about once an hour, again at once while it returns
-- max_rows, each call in a transaction of its own.
CREATE FUNCTION dbsync.prune_audit(max_rows integer DEFAULT 1000) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  setting jsonb;
  keep_days integer := 30;
  cutoff timestamptz;
  n bigint;
BEGIN
  IF max_rows IS NULL OR max_rows < 1 THEN
    RAISE EXCEPTION 'max_rows must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- search_path is pg_catalog, pg_temp: plain operators are the built-in ones.
  SELECT st.value INTO setting FROM dbsync.settings st WHERE st.key = 'audit.keep_days';
  IF setting IS NOT NULL THEN
    IF jsonb_typeof(setting) <> 'number'
       OR (setting #>> '{}') !~ '^[0-9]{1,6}$' THEN
      RAISE EXCEPTION 'setting audit.keep_days must be a whole number of days (0: keep forever), not %', setting
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    keep_days := (setting #>> '{}')::integer;
  END IF;
  IF keep_days = 0 THEN
    RETURN 0;
  END IF;
  cutoff := now() - make_interval(days => keep_days);
  DELETE FROM dbsync.audit a WHERE a.id = ANY (ARRAY(
    SELECT o.id FROM dbsync.audit o WHERE o.at < cutoff ORDER BY o.at LIMIT max_rows));
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END
$$;
COMMENT ON FUNCTION dbsync.prune_audit(integer) IS
  'Deletes at most max_rows audit rows older than the setting audit.keep_days (default 30; 0 keeps everything); returns how many. The launcher runs it about once an hour.';
-- [end section: audit]

-- Last: nothing in the schema is executable by PUBLIC; operators get dbsync_admin.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA dbsync FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA dbsync TO dbsync_admin;
