#!/usr/bin/python3
"""Randomized convergence checker for dbsync (issue 19): random histories between runs, jobs
through the real entry points (dbsync.run and background workers; dbsyncd's HTTP API and job
runner with the Redis stage), faults mid-job, and after every job an exact comparison of both
sides and the baseline with the model in oracle.py. See README.md beside this file.

  converge.py [--seed N] [--rounds R] [--seconds S] [--config NAME_OR_PREFIX ...] [--list]
              [--preset make-test|soak] [--keys K] [--ops O] [--verbose]

Needs the local stack (eval "$(test/stack/stack env)") with this checkout's dbsync installed and
build/dbsyncd built. Exit status 0: every episode converged; 1: a divergence (the seed, the
history and the differing rows are printed); 2: bad usage or set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import pwd
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

import psycopg2
import psycopg2.errors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import FIELDS, Model, Policy, Row, Decider, Undecidable, norm_price  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MASTER_DB = os.environ.get("PGDATABASE", "dbsync_test")  # the database the workers serve
DAEMON_DB = "conv_daemon"   # dbsyncd's own master: no background worker serves it
REMOTE_DB = "conv_remote"   # the "remote" PostgreSQL end (over TCP: the stack's server, or a
                            # private one when a configuration may kill it)
TOKEN = "conv-admin-token-0123456789abcdef"
JOB_TIMEOUT = 90.0          # seconds for one job to reach a final state
FINAL = ("succeeded", "failed", "cancelled", "awaiting_resolution")

# Text keys that stress ordering and equality: case, accents (composed and not), spaces,
# the empty string, 4-byte UTF-8.
SPECIAL_KEYS = ["", " ", "a", "A", "a ", " a", "b", "B", "é", "e\u0301", "É", "ß", "ss", "Ω",
                "😀", "𝄞x", "z", "Z", "zz", "ab", "a b", "a\tb", "ä", "Ä"]
NAMES = [None, "", "x", "X", "café", "cafe\u0301", "😀 emoji", "a b", "quote'", "back\\slash",
         "tab\tin", "line\nbreak", "long " * 20, "ß", "NULL"]
QTYS = [None, 0, 1, -1, 7, 42, 2147483647, -2147483648]
PRICES = [None, "10.5", "10.50", "10.500", "0", "0.00", "-3.25", "99999.99", "0.125", "-0.125",
          "1234567.8", "1", "1.0", "2.01"]


class Divergence(Exception):
    pass


# What libpq and the executors say when a connection to a server breaks.
CONNECTION_FAILURES = ("server closed the connection", "connection to server", "could not send",
                       "could not receive", "no connection to the server", "connection reset",
                       "terminating connection", "lost synchronization", "unexpected EOF",
                       "connection not open", "broken pipe")


def is_connection_failure(err) -> bool:
    e = (err or "").lower()
    return any(m.lower() in e for m in CONNECTION_FAILURES)


# --------------------------------------------------------------------------- databases

class DB:
    def __init__(self, dbname, port=None):
        self.dbname, self.port = dbname, port
        self.conn = None
        self.connect()

    def connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        kw = {"host": "127.0.0.1", "port": self.port, "user": "postgres"} if self.port else {}
        self.conn = psycopg2.connect(dbname=self.dbname, application_name="convergence", **kw)
        self.conn.autocommit = True
        with self.conn.cursor() as c:
            c.execute("SET client_min_messages = warning")

    def rows(self, sql, params=None):
        if self.conn.closed:  # its server was killed and restarted (kill-remote)
            self.connect()
        try:
            with self.conn.cursor() as c:
                c.execute(sql, params)
                return c.fetchall() if c.description else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            if not self.conn.closed:
                raise
            self.connect()  # broken before the statement reached the server: once more
            with self.conn.cursor() as c:
                c.execute(sql, params)
                return c.fetchall() if c.description else []

    def value(self, sql, params=None):
        r = self.rows(sql, params)
        return r[0][0] if r else None

    def exec(self, sql, params=None):
        self.rows(sql, params)


def admin_db(port=None):
    return DB("postgres", port)


def recreate_db(name, port=None):
    a = admin_db(port)
    a.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    a.exec(f'DROP DATABASE IF EXISTS "{name}"')
    a.exec(f'CREATE DATABASE "{name}"')
    a.conn.close()


class RemoteServer:
    """A private PostgreSQL 15 cluster for the remote end, so that the kill-remote fault can
    crash it (SIGKILL of the postmaster and its backends) and start it again (crash recovery)
    without touching the master. Runs as `postgres` when root, like the stack's."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "remote-pg")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                                     check=True).stdout.strip()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
        subprocess.run(["rm", "-rf", self.dir], check=True)
        os.makedirs(self.dir)
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "postgres",
                   "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])

    def _run(self, cmd, check=True):
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        return subprocess.run(cmd, check=check, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-l",
                   os.path.join(self.dir, "log"), "-w", "-t", "60", "-o",
                   f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=60", "start"])

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill9(self):
        """Crashes the server: SIGKILL to the postmaster and every backend at once."""
        pm = self.postmaster_pid()
        if not pm:
            return
        pids = child_pids(pm) + [pm]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in pids):
            time.sleep(0.02)

    def stop(self):
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-m", "immediate",
                   "stop"], check=False)


# --------------------------------------------------------------------------- dbsyncd

class RedisServer:
    """A private redis-server for dbsyncd's stage (the kill-redis fault kills it with SIGKILL and
    starts it again, empty: no persistence, as the stack's). Runs as the `redis` user when root."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = os.path.join(workdir, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.user = None
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("redis")
                os.chown(self.dir, pw.pw_uid, pw.pw_gid)
                self.user = "redis"
            except KeyError:
                pass
        self.proc = None
        self.log_path = os.path.join(workdir, "redis.log")

    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no", "--dir", self.dir]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                    c.sendall(b"PING\r\n")
                    if c.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}; see {self.log_path}")
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer; see {self.log_path}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            # runuser forwards no SIGKILL: kill the server itself (the child of runuser).
            for pid in child_pids(self.proc.pid) + [self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(10)

    def stop(self):
        self.kill9()


def child_pids(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


class Daemon:
    """A dbsyncd process on a free port, against `dbname`."""

    def __init__(self, dbname, runners, log_path):
        self.dbname, self.runners, self.log_path = dbname, runners, log_path
        self.proc = None
        self.port = None

    def start(self):
        key = open_key()
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": f"postgresql://{os.environ.get('PGUSER', 'postgres')}@{os.environ['PGHOST']}:"
                            f"{os.environ['PGPORT']}/{self.dbname}",
            "DBSYNC_ADMIN_TOKEN": TOKEN, "SECRET_KEY": key, "DBSYNC_LOG_LEVEL": "warn"})
        if self.port is None:
            self.port = free_port()  # kept across restarts: clients keep their address
        args = [os.path.join(REPO, "build", "dbsyncd"), f"--listen=127.0.0.1:{self.port}",
                "--workers=8", "--db-connections=3", "--poll-seconds=1", "--lease-seconds=2",
                f"--runners={self.runners}"]
        if self.runners:
            args.append("--executors=all")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        log.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                self.call("GET", "/healthz", auth=False)
                return
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"dbsyncd exited with {self.proc.returncode}; see {self.log_path}")
                time.sleep(0.05)
        raise RuntimeError(f"dbsyncd did not answer /healthz; see {self.log_path}")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def call(self, method, path, body=None, auth=True):
        data = None if body is None else json_dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if auth:
            req.add_header("Authorization", f"Bearer {TOKEN}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_key():
    path = os.path.join(os.environ["DBSYNC_STACK_DIR"], "pg", "data", "dbsync.key")
    with open(path) as f:
        return f.read().strip()


def json_dumps(v):
    """JSON with Decimals as numbers (exact)."""
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + json_dumps(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(json_dumps(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


# --------------------------------------------------------------------------- configurations

@dataclass
class Config:
    name: str
    executor: str = "worker"        # worker: dbsync.run + background workers; daemon: dbsyncd
    ends: str = "local-local"       # local-local | local-remote | remote-local
    key: str = "text"               # text | textC (COLLATE "C") | composite
    direction: str = "one_way"
    strategy: str = "source_wins"
    fallback: str = "manual"
    delete_policy: str = "propagate"
    batch: int = 5
    faults: tuple = ()               # cancel | terminate | kill-daemon | cut-remote | kill-remote |
                                     # kill-redis | cancel-waiting | edit-waiting
    api: bool = False                # runs and decisions through HTTP (worker: an API-only dbsyncd)
    known: tuple = ()                # known defect classes this config is expected to hit

    def policy(self):
        return Policy(self.direction, self.strategy, self.fallback, self.delete_policy)


def all_configs():
    """Every executor x ends x direction x strategy x delete policy, with faults; the key type,
    batch size, merge fallback and API use vary with the position (fixed per name)."""
    out = []
    i = 0
    for executor in ("worker", "daemon"):
        for ends in ("local-local", "local-remote", "remote-local"):
            for direction in ("one_way", "two_way"):
                for strategy in ("source_wins", "target_wins", "merge", "manual"):
                    for dp in ("propagate", "ignore", "soft"):
                        faults = ("terminate", "cancel") if executor == "worker" else ("kill-daemon", "cancel")
                        if ends != "local-local":
                            faults += ("cut-remote", "kill-remote")
                        if strategy == "manual":
                            faults += ("cancel-waiting", "edit-waiting")
                            if executor == "daemon":
                                faults += ("kill-redis",)
                        out.append(Config(
                            name=f"{executor}.{ends}.{direction}.{strategy}.{dp}", executor=executor,
                            ends=ends, key=("text", "textC", "composite")[i % 3], direction=direction,
                            strategy=strategy, fallback=("manual", "source", "target")[(i // 3) % 3],
                            delete_policy=dp, batch=2 + i % 4, faults=faults,
                            api=executor == "worker" and i % 4 == 1))
                        i += 1
    return out


# The make-test slice: configurations that pass on main today (see README's known defects).
MAKE_TEST = [
    Config("w-ll-1w-sw-prop", ends="local-local", key="text", strategy="source_wins", batch=3,
           faults=("terminate", "cancel")),
    Config("w-lr-1w-tw-soft", ends="local-remote", key="composite", strategy="target_wins",
           delete_policy="soft", batch=4, faults=("terminate", "cut-remote")),
    Config("w-rl-1w-merge-ign", ends="remote-local", key="textC", strategy="merge", fallback="source",
           delete_policy="ignore", batch=2, api=True),
    Config("w-ll-2w-merge-tgt", ends="local-local", key="composite", direction="two_way",
           strategy="merge", fallback="target", batch=3),
    Config("w-lr-2w-sw-soft", ends="local-remote", key="text", direction="two_way",
           strategy="source_wins", delete_policy="soft", batch=5),
    Config("w-ll-1w-manual", ends="local-local", key="text", strategy="manual", batch=3,
           faults=("cancel-waiting",)),
    Config("w-lr-2w-manual-api", ends="local-remote", key="composite", direction="two_way",
           strategy="manual", fallback="source", batch=4, api=True),
    Config("d-ll-1w-manual-redis", executor="daemon", ends="local-local", key="text",
           strategy="manual", fallback="target", batch=3, faults=("kill-daemon",)),
    Config("d-lr-2w-tw-prop", executor="daemon", ends="local-remote", key="textC",
           direction="two_way", strategy="target_wins", batch=4),
    Config("w-rl-2w-tw-ign", ends="remote-local", key="textC", direction="two_way",
           strategy="target_wins", delete_policy="ignore", batch=2),
    Config("w-ll-2w-merge-manual", ends="local-local", key="composite", direction="two_way",
           strategy="merge", fallback="manual", batch=3),
    Config("d-rl-1w-sw-soft", executor="daemon", ends="remote-local", key="text",
           strategy="source_wins", delete_policy="soft", batch=3,
           faults=("kill-daemon", "cancel", "cut-remote")),
]


# --------------------------------------------------------------------------- the episode

@dataclass
class Side:
    db: DB
    table: str          # schema-qualified
    where: str          # "source" | "target"


class Episode:
    def __init__(self, cfg: Config, seed: int, rounds: int, env, opts):
        self.cfg, self.seed, self.rounds, self.env, self.opts = cfg, seed, rounds, env, opts
        self.rng = random.Random(f"{seed}:{cfg.name}")
        self.model = Model(cfg.policy())
        self.history: list[str] = []
        self.sync = "conv_" + "".join(ch if ch.isalnum() else "_" for ch in cfg.name)
        self.keycols = ["k", "n"] if cfg.key == "composite" else ["k"]
        self.stale_seen = False
        self.stats = {"jobs": 0, "faults": 0, "conflicts": 0, "decisions": 0, "rows_checked": 0}
        n = opts.keys
        pool = list(SPECIAL_KEYS) + [f"k{i:03d}" for i in range(max(0, n - len(SPECIAL_KEYS)))]
        self.rng.shuffle(pool)
        pool = pool[:n]
        if cfg.key == "composite":
            self.keys = sorted({(k, self.rng.choice([0, 1, -5, 2147483647])) for k in pool})
        else:
            self.keys = [(k,) for k in pool]

    # ---- logging ------------------------------------------------------------------------
    def log(self, msg):
        self.history.append(msg)
        if self.opts.verbose:
            print(f"  [{self.cfg.name}] {msg}", flush=True)

    def known(self, cls, msg):
        """A failure of a class listed in README as a known defect: fatal unless
        --tolerate-known (then counted and the episode goes on)."""
        self.log(f"KNOWN {cls}: {msg}")
        if not self.opts.tolerate_known:
            raise Divergence(f"[known defect {cls}] {msg}")
        self.stats["known_" + cls] = self.stats.get("known_" + cls, 0) + 1

    # ---- set-up -------------------------------------------------------------------------
    def setup(self):
        cfg, env = self.cfg, self.env
        self.master = env.master_db(cfg.executor)
        src_db = self.master if cfg.ends.startswith("local") else env.remote
        tgt_db = self.master if cfg.ends.endswith("local") else env.remote
        base = self.sync[5:]
        self.src = Side(src_db, f"conv.s_{base}", "source")
        self.tgt = Side(tgt_db, f"conv.t_{base}", "target")
        if self.master.value("SELECT 1 FROM dbsync.syncs WHERE name = %s", (self.sync,)):
            self.master.exec("UPDATE dbsync.jobs SET status = 'cancelled', finished_at = now() "
                             "WHERE sync_id = (SELECT id FROM dbsync.syncs WHERE name = %s) "
                             "AND finished_at IS NULL", (self.sync,))
            self.master.exec("SELECT dbsync.drop_sync(%s)", (self.sync,))
        coll = ' COLLATE "C"' if cfg.key == "textC" else ""
        keydef = f"k text{coll} NOT NULL" + (", n integer NOT NULL" if cfg.key == "composite" else "")
        pk = ", ".join(self.keycols)
        for side, price in ((self.src, "numeric"), (self.tgt, "numeric(12,2)")):
            side.db.exec(f"DROP TABLE IF EXISTS {side.table}")
            side.db.exec(f"CREATE TABLE {side.table} ({keydef}, name text, qty integer, "
                         f"price {price}, deleted boolean NOT NULL DEFAULT false, PRIMARY KEY ({pk}))")
        # The initial state: a source with most keys, a target with a few keys of its own.
        for k in self.keys:
            r = self.rng.random()
            if r < 0.6:
                self.insert(self.src, k, self.rand_vals())
            elif r < 0.75:
                self.insert(self.tgt, k, self.rand_vals())
        mapping = {c: c for c in self.keycols + list(FIELDS)}
        dp = "soft:deleted" if cfg.delete_policy == "soft" else cfg.delete_policy
        opts = {"merge_fallback": cfg.fallback}
        src_ds = "conv_local" if cfg.ends.startswith("local") else "conv_remote"
        tgt_ds = "conv_local" if cfg.ends.endswith("local") else "conv_remote"
        filt = "conv.slow(k)" if self.has_faults_needing_time() else None
        self.sync_id = self.master.value(
            "SELECT dbsync.create_sync(%s, %s, %s, %s, %s, mapping => %s, direction => %s, "
            "strategy => %s, strategy_options => %s, delete_policy => %s, batch_size => %s, "
            "filter => %s)",
            (self.sync, src_ds, self.src.table, tgt_ds, self.tgt.table, json.dumps(mapping),
             cfg.direction, cfg.strategy, json.dumps(opts), dp, cfg.batch, filt))
        self.log(f"sync {self.sync} id {self.sync_id}: {cfg}")

    def has_faults_needing_time(self):
        return any(f in ("cancel", "terminate", "kill-daemon") for f in self.cfg.faults)

    # ---- values and edits ---------------------------------------------------------------
    def rand_vals(self):
        return (self.rng.choice(NAMES), self.rng.choice(QTYS), self.rng.choice(PRICES))

    @staticmethod
    def mapped(raw):
        return (raw[0], raw[1], norm_price(raw[2]))

    def side_model(self, side):
        return self.model.src if side.where == "source" else self.model.tgt

    def keyparams(self, k):
        return " AND ".join(f"{c} = %s" for c in self.keycols), list(k)

    def insert(self, side, k, raw):
        cols = ", ".join(self.keycols + list(FIELDS))
        ph = ", ".join(["%s"] * (len(self.keycols) + len(FIELDS)))
        side.db.exec(f"INSERT INTO {side.table} ({cols}) VALUES ({ph})", list(k) + list(raw))
        self.side_model(side)[k] = Row(self.mapped(raw), False)
        self.log(f"{side.where}: insert {k!r} {raw!r}")

    def update(self, side, k, changes: dict):
        w, kp = self.keyparams(k)
        sets = ", ".join(f"{c} = %s" for c in changes)
        side.db.exec(f"UPDATE {side.table} SET {sets} WHERE {w}", list(changes.values()) + kp)
        m = self.side_model(side)
        vals = list(m[k].vals)
        for c, v in changes.items():
            i = FIELDS.index(c)
            vals[i] = norm_price(v) if c == "price" else v
        m[k] = Row(tuple(vals), m[k].deleted)
        self.log(f"{side.where}: update {k!r} {changes!r}")

    def delete(self, side, k):
        w, kp = self.keyparams(k)
        side.db.exec(f"DELETE FROM {side.table} WHERE {w}", kp)
        self.side_model(side).pop(k, None)
        self.log(f"{side.where}: delete {k!r}")

    def touch(self, side, k):
        w, kp = self.keyparams(k)
        side.db.exec(f"UPDATE {side.table} SET name = name WHERE {w}", kp)
        self.log(f"{side.where}: touch {k!r} (no-op update)")

    def edit_round(self):
        sides = [self.src, self.tgt]  # one-way: the target drifts too
        nops = self.rng.randint(0, self.opts.ops)
        # A few hot keys take half the edits, so the same key often changes on both sides.
        hot = self.rng.sample(self.keys, min(4, len(self.keys)))
        for _ in range(nops):
            side = self.rng.choice(sides)
            m = self.side_model(side)
            k = self.rng.choice(hot if self.rng.random() < 0.5 else self.keys)
            r = self.rng.random()
            if k not in m:
                if r < 0.7:
                    self.insert(side, k, self.rand_vals())
                continue
            if r < 0.45:
                fields = self.rng.sample(FIELDS, self.rng.randint(1, 3))
                ch = {}
                b = self.model.base.get(k)
                for f in fields:
                    i = FIELDS.index(f)
                    if b is not None and self.rng.random() < 0.3:
                        bv = b[0] if side.where == "source" else b[1]
                        if bv is not None:  # changed back to what was synced
                            ch[f] = bv[i]
                            continue
                    ch[f] = self.rand_vals()[i]
                self.update(side, k, ch)
            elif r < 0.55:
                cur = m[k].vals[2]
                if cur is not None:  # the same number at another scale: not a change
                    d = Decimal(cur)
                    self.update(side, k, {"price": str(d.quantize(Decimal("0.001")))
                                          if self.rng.random() < 0.5 else str(d.normalize())})
            elif r < 0.62:
                self.touch(side, k)
            elif r < 0.85:
                self.delete(side, k)
            else:  # delete, then insert the key again
                self.delete(side, k)
                self.insert(side, k, self.rand_vals() if self.rng.random() < 0.6 else
                            self._raw_of(m.get(k)))

    def _raw_of(self, row):
        return self.rand_vals() if row is None else row.vals

    # ---- reading and checking -----------------------------------------------------------
    def read_side(self, side):
        kc = ", ".join(self.keycols)
        out = {}
        for r in side.db.rows(f"SELECT {kc}, name, qty, price::numeric(12,2)::text, deleted "
                              f"FROM {side.table}"):
            nk = len(self.keycols)
            out[tuple(r[:nk])] = Row(tuple(r[nk:nk + 3]), r[nk + 3])
        return out

    def check(self, what):
        diffs = []
        for side, model in ((self.src, self.model.src), (self.tgt, self.model.tgt)):
            actual = self.read_side(side)
            self.stats["rows_checked"] += len(actual)
            for k in sorted(set(actual) | set(model), key=repr):
                a, m = actual.get(k), model.get(k)
                if a != m:
                    diffs.append(f"  {side.where} {k!r}: actual {fmt_row(a)}  expected {fmt_row(m)}"
                                 f"  baseline {self.model.base.get(k)!r}")
        nbase = self.master.value("SELECT count(*) FROM dbsync.sync_state WHERE sync_id = %s",
                                  (self.sync_id,))
        if nbase != len(self.model.base):
            diffs.append(f"  baseline: {nbase} keys, expected {len(self.model.base)}")
        if diffs:
            raise Divergence(f"{what}: the sides differ from the model:\n" + "\n".join(diffs))
        stale = self.master.value(
            "SELECT count(*) FROM dbsync.conflicts c JOIN dbsync.jobs j ON j.id = c.job_id "
            "WHERE j.sync_id = %s AND c.status = 'pending' AND j.finished_at IS NOT NULL",
            (self.sync_id,))
        if stale and not self.stale_seen:
            self.stale_seen = True
            self.known("K5", f"{what}: {stale} conflict(s) of finished jobs are still pending")

    # ---- jobs ---------------------------------------------------------------------------
    def start_job(self):
        cfg = self.cfg
        if cfg.executor == "daemon" or (cfg.api and self.rng.random() < 0.7):
            d = self.env.daemon(cfg.executor)
            st, body = d.call("POST", f"/api/sync/{self.sync_id}")
            if st != 202:
                raise Divergence(f"POST /api/sync/{self.sync_id}: {st} {body}")
            job = body.get("id") or body.get("job", {}).get("id")
            self.log(f"run: job {job} through the API")
            return int(job)
        job = self.master.value("SELECT id FROM dbsync.run(%s, wait => false)", (self.sync,))
        self.log(f"run: job {job} through dbsync.run")
        return job

    def job_row(self, job):
        r = self.master.rows("SELECT status, error, executor, interruptions FROM dbsync.jobs WHERE id = %s",
                             (job,))
        return r[0]

    def wait_job(self, job, timeout=JOB_TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st, err, _, _ = self.job_row(job)
            if st in FINAL:
                return st, err
            time.sleep(0.03)
        raise Divergence(f"job {job} did not finish within {timeout:.0f} s (status {self.job_row(job)})")

    def fault(self, job, kind):
        time.sleep(self.rng.uniform(0.0, 0.25))
        st, _, executor, _ = self.job_row(job)
        if st in FINAL:
            self.log(f"fault {kind}: missed (job already {st})")
            return
        self.stats["faults"] += 1
        self.stats["fault_" + kind] = self.stats.get("fault_" + kind, 0) + 1
        if kind == "cancel":
            try:
                self.master.exec("SELECT dbsync.cancel(%s)", (job,))
            except psycopg2.errors.ObjectNotInPrerequisiteState:
                self.log(f"fault cancel: missed (job {job} finished meanwhile)")
                return
            self.cancel_sent = True
            self.log(f"fault: dbsync.cancel({job}) while {st}")
        elif kind == "terminate":
            if executor and executor.startswith("worker "):
                pid = int(executor.split()[1])
                self.master.exec("SELECT pg_terminate_backend(%s)", (pid,))
                self.interrupted = True
                self.log(f"fault: pg_terminate_backend({pid}), the executor of job {job} ({st})")
            else:
                self.log(f"fault terminate: job {job} has no worker yet ({st}, {executor})")
        elif kind == "cut-remote":
            n = self.env.proxy.cut()
            self.interrupted = self.cut_sent = True
            self.log(f"fault: {n} connection(s) to the remote end cut (job {job} {st})")
        elif kind == "kill-remote":
            self.env.remote_server.kill9()
            self.interrupted = self.cut_sent = True
            down = self.rng.uniform(0.0, 1.0)
            self.log(f"fault: kill -9 of the remote server (job {job} {st}); restarted after {down:.2f} s")
            time.sleep(down)
            self.env.remote_server.start()
        elif kind == "kill-redis":
            self.env.redis.kill9()
            self.interrupted = self.redis_killed = True
            down = self.rng.uniform(0.0, 1.5)
            self.log(f"fault: kill -9 Redis (job {job} {st}), back empty after {down:.2f} s")
            time.sleep(down)
            self.env.redis.start()
        elif kind == "kill-daemon":
            d = self.env.daemon("daemon")
            d.kill9()
            self.interrupted = True
            self.log(f"fault: kill -9 dbsyncd (job {job} {st}, executor {executor})")
            d.start()

    def run_job(self):
        """Runs one job to a settled state (resolving conflicts, re-running after a cancel).
        Returns the job that finished."""
        job = self.start_job()
        self.stats["jobs"] += 1
        run_faults = [f for f in self.cfg.faults
                      if f in ("cancel", "terminate", "kill-daemon", "cut-remote", "kill-redis",
                               "kill-remote")]
        self.env.set_delay(self.src.db, 0.004 if run_faults else 0.0)
        self.interrupted = self.cancel_sent = self.cut_sent = self.redis_killed = False
        if run_faults and self.rng.random() < 0.6:
            self.fault(job, self.rng.choice(run_faults))
        for attempt in range(6):
            st, err = self.wait_job(job)
            if st == "cancelled":
                self.log(f"job {job} cancelled; run again")
                job = self.start_job()
                self.stats["jobs"] += 1
                continue
            if st == "failed":
                if self.cut_sent and is_connection_failure(err):
                    # The contract for a cut connection: the job fails naming it, and the next
                    # run converges (what a batch committed remotely is harmless to apply again).
                    self.log(f"job {job} failed after the cut, as it should: {err}; run again")
                    self.cut_sent = False
                    job = self.start_job()
                    self.stats["jobs"] += 1
                    continue
                if self.redis_killed and "lost its data" in (err or ""):
                    # The contract when Redis comes back empty: the job stops naming the loss
                    # (what it committed stays), and the next run converges.
                    self.log(f"job {job} failed after Redis lost its stage, as it should: {err}; "
                             "run again")
                    self.redis_killed = False
                    job = self.start_job()
                    self.stats["jobs"] += 1
                    continue
                if "sync_state_pkey" in (err or "") and self.interrupted:
                    self.known("K3", f"job {job}, resumed after an interruption, failed on its own "
                                     f"baseline: {err}")
                    job = self.start_job()
                    self.stats["jobs"] += 1
                    continue
                if "rows to update are missing" in (err or "") and self.interrupted and \
                        self.cfg.direction == "two_way":
                    self.known("N1", f"job {job}, two-way, resumed after an interruption, failed: {err}")
                    job = self.start_job()
                    self.stats["jobs"] += 1
                    continue
                raise Divergence(f"job {job} failed: {err}")
            return job, st
        raise Divergence("the job was cancelled 6 times in a row")

    # ---- conflicts ----------------------------------------------------------------------
    def pending_conflicts(self, job):
        """[(id, key tuple, kind)] of the job's pending conflicts (SQL or the API)."""
        if self.cfg.executor == "daemon" or self.cfg.api:
            d = self.env.daemon(self.cfg.executor)
            out, after = [], None
            for _ in range(100):
                q = f"/api/sync/{self.sync_id}/conflicts?status=pending&limit=1000"
                if after is not None:
                    q += f"&after={after}"
                st, body = d.call("GET", q)
                if st != 200:
                    raise Divergence(f"GET {q}: {st} {body}")
                for it in body["items"]:
                    if it.get("job_id") in (job, None):
                        out.append((it["id"], self.key_of(it["key"]), it["kind"]))
                after = body.get("next_after")
                if after is None:
                    break
            return out
        return [(i, self.key_of(k), kind) for i, k, kind in self.master.rows(
            "SELECT id, key, kind FROM dbsync.conflict_list WHERE job_id = %s AND status = 'pending' "
            "ORDER BY id", (job,))]

    def key_of(self, kj):
        return tuple(kj[c] for c in self.keycols)

    def resolve(self, cid, decision, row):
        if self.cfg.executor == "daemon" or (self.cfg.api and self.rng.random() < 0.7):
            body = {"decision": decision}
            if row is not None:
                body["row"] = row
            st, ans = self.env.daemon(self.cfg.executor).call(
                "POST", f"/api/sync/{self.sync_id}/resolve/{cid}", body)
            self.log(f"decide conflict {cid}: {decision} {row or ''} via the API -> {st}")
            return st == 200, ans
        try:
            self.master.exec("SELECT dbsync.resolve(%s, %s, %s)",
                             (cid, decision, None if row is None else json_dumps(row)))
            self.log(f"decide conflict {cid}: {decision} {row or ''} via dbsync.resolve")
            return True, None
        except psycopg2.Error as e:
            self.log(f"decide conflict {cid}: {decision} refused: {e.pgerror.strip() if e.pgerror else e}")
            return False, str(e)

    # ---- one round ----------------------------------------------------------------------
    def round(self, r):
        self.log(f"--- round {r}")
        if r > 0:
            self.edit_round()
        before_src, before_tgt = dict(self.model.src), dict(self.model.tgt)
        plans, pending = self.model.run()
        job, st = self.run_job()
        want_pending = {(c.key, c.kind) for c in pending}
        if st == "awaiting_resolution":
            got = self.pending_conflicts(job)
            got_set = {(k, kind) for _, k, kind in got}
            if got_set != want_pending and self.redis_killed:
                # The kill landed as the job came to wait: its conflicts are gone from Redis. The
                # contract: dbsyncd's janitor sends it to its commit step, which fails it naming
                # the lost change set; the next run raises the conflicts again.
                deadline = time.time() + JOB_TIMEOUT  # the janitor runs every --poll-seconds
                st2, err2 = self.wait_job(job)
                while st2 == "awaiting_resolution" and time.time() < deadline:
                    time.sleep(0.1)
                    st2, err2, _, _ = self.job_row(job)
                if st2 != "failed" or "no longer in Redis" not in (err2 or ""):
                    raise Divergence(f"job {job}, whose stage Redis lost while it waited: {st2} "
                                     f"{err2 or ''}")
                self.log(f"job {job} failed after Redis lost its waiting stage, as it should: {err2}")
                self.redis_killed = False
                return self.round_again(r)
            if got_set != want_pending:
                raise Divergence(
                    f"job {job}: conflicts differ from the model\n  unexpected: "
                    f"{sorted(got_set - want_pending, key=repr)}\n  missing: "
                    f"{sorted(want_pending - got_set, key=repr)}")
            if "cancel-waiting" in self.cfg.faults and self.rng.random() < 0.3:
                self.master.exec("SELECT dbsync.cancel(%s)", (job,))
                self.stats["faults"] += 1
                self.stats["fault_cancel-waiting"] = self.stats.get("fault_cancel-waiting", 0) + 1
                self.log(f"fault: dbsync.cancel({job}) while awaiting decisions")
                st2, _ = self.wait_job(job)
                if st2 != "cancelled":
                    raise Divergence(f"job {job} cancelled while awaiting: {st2}")
                self.check(f"round {r}, after cancel while awaiting (nothing written)")
                return self.round_again(r)
            if "edit-waiting" in self.cfg.faults and self.rng.random() < 0.5:
                if self.probe_edit_while_waiting(r, job, got, plans):
                    return "stop"
            self.stats["conflicts"] += len(got)
            by_key = {c.key: c for c in pending}
            d = Decider(self.model.pol)
            self.rng.shuffle(got)
            for cid, k, kind in got:
                c = by_key[k]
                while True:
                    dec = self.rng.choice(["source", "target", "merge", "custom", "skip"])
                    row = None
                    if dec == "custom":
                        raw = self.rand_vals()
                        row = {"name": raw[0], "qty": raw[1],
                               "price": None if raw[2] is None else Decimal(raw[2])}
                    try:
                        want = (row["name"], row["qty"], norm_price(row["price"])) if row else None
                        p = d.decide(c, dec, want, before_src.get(k), before_tgt.get(k))
                        expect_ok = True
                    except Undecidable:
                        expect_ok, p = False, None
                    ok, ans = self.resolve(cid, dec, row)
                    if ok != expect_ok:
                        raise Divergence(f"conflict {cid} {k!r}: decision {dec} "
                                         f"{'accepted' if ok else 'refused'}, the model says "
                                         f"{'accept' if expect_ok else 'refuse'}: {ans}")
                    if ok:
                        plans[k] = p
                        self.stats["decisions"] += 1
                        break
            st, err = self.wait_job(job)
            if st == "cancelled" and self.cancel_sent:
                self.known("K4", f"job {job}: a cancel sent while it ran, which it missed, cancelled "
                                 f"its commit after every conflict was decided (decisions lost)")
                self.check(f"round {r}, after the cancelled commit (nothing written)")
                return self.round_again(r)
            if st != "succeeded":
                raise Divergence(f"job {job} after every decision: {st} {err}")
        elif want_pending:
            raise Divergence(f"job {job} {st}, but the model expects conflicts: "
                             f"{sorted(want_pending, key=repr)}")
        elif st != "succeeded":
            raise Divergence(f"job {job}: {st}")
        errors = self.master.value("SELECT errors FROM dbsync.jobs WHERE id = %s", (job,))
        if errors:
            raise Divergence(f"job {job} recorded {errors} row error(s)")
        for k, p in plans.items():
            self.model.apply(k, p)
        self.check(f"round {r}, job {job}")
        self.second_run(r)

    def probe_edit_while_waiting(self, r, job, got, plans):
        """Issue 12 #1 (hold_all): a target row the stage will update is edited (or deleted)
        while the job waits for decisions; every conflict is then skipped. The edit must not be
        overwritten (the write contract of docs/how-a-sync-works.md: a write never overwrites a row version the job
        did not read). The model does not follow concurrent edits, so the episode ends here.
        Returns False when there was no row to probe."""
        cands = [k for k, p in plans.items()
                 if p.pending is None and isinstance(p.tgt, Row) and k in self.model.tgt]
        if not cands:
            return False
        k = self.rng.choice(sorted(cands, key=repr))
        self.stats["faults"] += 1
        self.stats["fault_edit-waiting"] = self.stats.get("fault_edit-waiting", 0) + 1
        w, kp = self.keyparams(k)
        delete = self.rng.random() < 0.3
        if delete:
            self.tgt.db.exec(f"DELETE FROM {self.tgt.table} WHERE {w}", kp)
        else:
            self.tgt.db.exec(f"UPDATE {self.tgt.table} SET name = %s WHERE {w}", [f"concurrent {r}"] + kp)
        self.log(f"fault: while job {job} awaits decisions, the target's row {k!r} (staged: "
                 f"{fmt_row(plans[k].tgt)}) is {'deleted' if delete else 'edited: name = concurrent'}")
        for cid, _, _ in got:
            ok, ans = self.resolve(cid, "skip", None)
            if not ok:
                raise Divergence(f"skip of conflict {cid} refused: {ans}")
        st, err = self.wait_job(job)
        row = self.read_side(self.tgt).get(k)
        if st == "cancelled" and self.cancel_sent:
            self.known("K4", f"job {job}: a missed cancel cancelled its commit (decisions lost)")
        elif delete:
            if st == "failed":
                self.known("K1", f"job {job}: a target row deleted while the job waited made the whole "
                                 f"commit fail after every conflict was decided: {err}")
            elif st != "succeeded":
                raise Divergence(f"job {job} after the probe: {st} {err}")
            elif row is not None:
                self.known("K1", f"job {job}: a target row deleted while the job waited came back "
                                 f"as {fmt_row(row)}")
        else:
            if st != "succeeded":
                raise Divergence(f"job {job} after the probe: {st} {err}")
            if row is None or row.vals[0] != f"concurrent {r}":
                self.known("K1", f"job {job}: a target edit made while the job waited for decisions "
                                 f"was overwritten by the stage: now {fmt_row(row)}")
        self.log("probe done: the model does not follow concurrent edits; the episode ends")
        return True

    def round_again(self, r, depth=0):
        """After a cancel while awaiting: the same state runs again (no edits)."""
        if depth >= 5:
            raise Divergence(f"round {r}: the same state was cancelled 5 times in a row")
        self.log(f"--- round {r} again")
        plans, pending = self.model.run()
        job, st = self.run_job()
        got = {(k, kind) for _, k, kind in self.pending_conflicts(job)} if st == "awaiting_resolution" else set()
        if got != {(c.key, c.kind) for c in pending}:
            raise Divergence(f"job {job} after a cancelled one: conflicts {sorted(got, key=repr)}, "
                             f"model {sorted(((c.key, c.kind) for c in pending), key=repr)}")
        # Decide everything with skip (always accepted): the model records both sides as they are.
        if st == "awaiting_resolution":
            d = Decider(self.model.pol)
            by_key = {c.key: c for c in pending}
            for cid, k, _ in self.pending_conflicts(job):
                ok, ans = self.resolve(cid, "skip", None)
                if not ok:
                    raise Divergence(f"skip of conflict {cid} refused: {ans}")
                plans[k] = d.decide(by_key[k], "skip", None, None, None)
            st, err = self.wait_job(job)
            if st == "cancelled" and self.cancel_sent:
                self.known("K4", f"job {job}: a missed cancel cancelled its commit")
                self.check(f"round {r} again, after the cancelled commit (nothing written)")
                return self.round_again(r, depth + 1)
            if st != "succeeded":
                raise Divergence(f"job {job} after every decision: {st} {err}")
        for k, p in plans.items():
            self.model.apply(k, p)
        self.check(f"round {r} again, job {job}")

    def second_run(self, r):
        """An immediate re-run with no edits changes nothing and raises nothing."""
        if self.rng.random() > self.opts.rerun:
            return
        self.env.set_delay(self.src.db, 0.0)
        plans, pending = self.model.run()
        if pending or any(p.src != "keep" or p.tgt != "keep" for p in plans.values()):
            raise Divergence("the model itself plans changes on a re-run (a model bug)")
        job = self.start_job()
        self.stats["jobs"] += 1
        st, err = self.wait_job(job)
        counts = self.master.rows(
            "SELECT inserted, updated, deleted, source_inserted, source_updated, source_deleted, "
            "conflicts, errors FROM dbsync.job_list WHERE id = %s", (job,))[0]
        if st != "succeeded" or any(counts):
            raise Divergence(f"round {r}: the re-run without edits (job {job}) was {st} {err or ''} "
                             f"with counts (ins, upd, del, src ins, src upd, src del, conflicts, errors) {counts}")
        self.check(f"round {r}, re-run job {job}")

    def run(self, deadline):
        self.setup()
        for r in range(self.rounds):
            if time.time() > deadline:
                self.log(f"time is up after {r} rounds")
                break
            if self.round(r) == "stop":
                break
        return self.stats


def fmt_row(r):
    if r is None:
        return "(absent)"
    return f"{r.vals!r}{' deleted' if r.deleted else ''}"


# --------------------------------------------------------------------------- environment

class Env:
    def __init__(self, opts):
        self.opts = opts
        self.daemons = {}
        self.proxy = None
        self.redis = None
        self.remote_server = None
        os.makedirs(opts.workdir, exist_ok=True)
        self.logdir = opts.workdir

    def setup(self, need_daemon, need_api, need_remote_server=False):
        port = os.environ["PGPORT"]
        user = os.environ.get("PGUSER", "postgres")
        remote_port = None
        if need_remote_server:
            self.remote_server = RemoteServer(self.logdir)
            self.remote_server.start()
            remote_port = self.remote_server.port
        # The remote end is reached through a proxy that the cut-remote fault resets.
        self.proxy = FaultProxy("127.0.0.1", int(remote_port or port))
        recreate_db(REMOTE_DB, remote_port)
        self.remote = DB(REMOTE_DB, remote_port)
        self.remote.exec("CREATE SCHEMA conv")
        self.master = DB(MASTER_DB)
        self.master.exec("CREATE EXTENSION IF NOT EXISTS dbsync")
        if self.master.value("SELECT count(*) FROM dbsync.settings WHERE key = 'daemon.redis_url'"):
            raise SystemExit(f"converge: {MASTER_DB} has daemon.redis_url set: manual jobs would "
                             "go to dbsyncd; remove it first")
        self._prepare_master(self.master, self.proxy.port, user)
        self.daemon_master = None
        if need_daemon:
            recreate_db(DAEMON_DB)
            self.daemon_master = DB(DAEMON_DB)
            self.daemon_master.exec("CREATE EXTENSION dbsync")
            self._prepare_master(self.daemon_master, self.proxy.port, user)
        for db in (self.master, self.remote, self.daemon_master):
            if db is None:
                continue
            db.exec("CREATE SCHEMA IF NOT EXISTS conv")
            db.exec("CREATE TABLE IF NOT EXISTS conv.knobs (delay float8 NOT NULL)")
            db.exec("DELETE FROM conv.knobs; INSERT INTO conv.knobs VALUES (0)")
            # The faults' filter: always true, but each row costs `delay` seconds, so a job
            # lasts long enough to be hit mid-way.
            db.exec("CREATE OR REPLACE FUNCTION conv.slow(k text) RETURNS boolean LANGUAGE sql "
                    "VOLATILE AS $$ SELECT pg_sleep(delay) IS NOT NULL FROM conv.knobs $$")
        if need_daemon:
            d = Daemon(DAEMON_DB, 2, os.path.join(self.logdir, "dbsyncd-daemon.log"))
            d.start()
            self.daemons["daemon"] = d
            self.redis = RedisServer(self.logdir)
            self.redis.start()
            st, body = d.call("PUT", "/api/settings", {"redis_url": self.redis.url()})
            if st != 200:
                raise SystemExit(f"converge: PUT /api/settings: {st} {body}")
        if need_api:
            d = Daemon(MASTER_DB, 0, os.path.join(self.logdir, "dbsyncd-api.log"))
            d.start()
            self.daemons["worker"] = d

    def _prepare_master(self, db, port, user):
        for name, in db.rows("SELECT name FROM dbsync.syncs WHERE name LIKE 'conv\\_%'"):
            db.exec("UPDATE dbsync.jobs SET status = 'cancelled', finished_at = now() WHERE "
                    "sync_id = (SELECT id FROM dbsync.syncs WHERE name = %s) AND finished_at IS NULL",
                    (name,))
            db.exec("SELECT dbsync.drop_sync(%s)", (name,))
        db.exec("DROP SCHEMA IF EXISTS conv CASCADE")
        db.exec("CREATE SCHEMA conv")
        for ds in ("conv_local", "conv_remote"):
            if db.value("SELECT 1 FROM dbsync.datasources WHERE name = %s", (ds,)):
                db.exec("SELECT dbsync.drop_datasource(%s)", (ds,))
        db.exec("SELECT dbsync.add_datasource('conv_local', 'local')")
        db.exec("SELECT dbsync.add_datasource('conv_remote', 'postgres', %s)",
                (f"host=127.0.0.1 port={port} dbname={REMOTE_DB} user={user}",))

    def master_db(self, executor):
        return self.daemon_master if executor == "daemon" else self.master

    def daemon(self, executor):
        return self.daemons[executor]

    def set_delay(self, db, delay):
        db.exec("UPDATE conv.knobs SET delay = %s", (delay,))

    def close(self):
        for d in self.daemons.values():
            d.stop()
        if self.proxy:
            self.proxy.close()
        if self.redis:
            self.redis.stop()
        if self.remote_server:
            self.remote_server.stop()


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="master seed (default: random, printed)")
    ap.add_argument("--rounds", type=int, default=None, help="rounds per configuration")
    ap.add_argument("--seconds", type=float, default=None, help="stop starting rounds after this")
    ap.add_argument("--config", action="append", default=[], help="names or prefixes (repeatable)")
    ap.add_argument("--preset", choices=["make-test", "soak"], default="soak")
    ap.add_argument("--keys", type=int, default=None, help="size of the key pool")
    ap.add_argument("--ops", type=int, default=None, help="most edits per round")
    ap.add_argument("--rerun", type=float, default=1.0, help="share of rounds followed by a re-run check")
    ap.add_argument("--episodes", type=int, default=1, help="episodes (seeds) per configuration")
    ap.add_argument("--keep-going", action="store_true", help="report every failing configuration")
    ap.add_argument("--tolerate-known", action="store_true",
                    help="count failures of the known classes (README) and go on")
    ap.add_argument("--faults", default=None,
                    help="comma-separated faults replacing each configuration's own ('' for none)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--workdir", default=os.path.join(REPO, "build", "convergence"))
    opts = ap.parse_args()

    configs = MAKE_TEST if opts.preset == "make-test" else MAKE_TEST + all_configs()
    if opts.config:
        sel = [c for c in configs if any(c.name == p or c.name.startswith(p) for p in opts.config)]
        if not sel:
            print(f"converge: no configuration matches {opts.config} (--list)", file=sys.stderr)
            return 2
        configs = sel
    if opts.faults is not None:
        import dataclasses
        faults = tuple(f for f in opts.faults.split(",") if f)
        configs = [dataclasses.replace(c, faults=faults) for c in configs]
    if opts.list:
        for c in configs:
            print(c.name)
        return 0
    if opts.seed is None:
        opts.seed = random.SystemRandom().randrange(1, 2**31)
    if opts.rounds is None:
        opts.rounds = 8 if opts.preset == "make-test" else 30
    if opts.keys is None:
        opts.keys = 16 if opts.preset == "make-test" else 30
    if opts.ops is None:
        opts.ops = 10 if opts.preset == "make-test" else 20
    for v in ("PGHOST", "PGPORT", "DBSYNC_STACK_DIR", "REDIS_URL"):
        if v not in os.environ:
            print(f"converge: {v} is not set: eval \"$(test/stack/stack env)\"", file=sys.stderr)
            return 2
    t0 = time.time()
    deadline = t0 + opts.seconds if opts.seconds else float("inf")
    print(f"converge: seed {opts.seed}, {len(configs)} configurations, {opts.rounds} rounds each, "
          f"{opts.keys} keys, up to {opts.ops} edits per round", flush=True)
    env = Env(opts)
    failures = 0
    totals = {}
    try:
        env.setup(any(c.executor == "daemon" for c in configs),
                  any(c.api and c.executor == "worker" for c in configs),
                  any("kill-remote" in c.faults for c in configs))
        for ep in range(opts.episodes):
            for cfg in configs:
                if time.time() > deadline:
                    break
                seed = opts.seed + ep
                e = Episode(cfg, seed, opts.rounds, env, opts)
                t1 = time.time()
                try:
                    st = e.run(deadline)
                    for k, v in st.items():
                        totals[k] = totals.get(k, 0) + v
                    print(f"ok    {cfg.name:<28} seed {seed}: {st['jobs']} jobs, {st['faults']} faults, "
                          f"{st['conflicts']} conflicts, {st['rows_checked']} rows checked "
                          f"({time.time() - t1:.1f} s)"
                          + "".join(f", {k[6:]} x{v}" for k, v in st.items() if k.startswith("known_")),
                          flush=True)
                except (Divergence, psycopg2.Error, RuntimeError) as ex:
                    failures += 1
                    print(f"FAIL  {cfg.name} seed {seed}", flush=True)
                    print(f"  reproduce: test/convergence/converge.py --preset {opts.preset} "
                          f"--config {cfg.name} --seed {seed} --rounds {opts.rounds} --keys {opts.keys} "
                          f"--ops {opts.ops}" + (f" --faults '{opts.faults}'" if opts.faults is not None else ""))
                    print("  history:")
                    for line in e.history[-int(os.environ.get("CONV_HISTORY_LINES", "400")):]:
                        print("    " + line.replace("\n", "\\n"))
                    print(f"  {type(ex).__name__}: {ex}", flush=True)
                    if not opts.keep_going:
                        return 1
                    # Connections may be broken by the failure: start over for the next one.
                    env.master.connect()
                    env.remote.connect()
                    if env.daemon_master:
                        env.daemon_master.connect()
    finally:
        env.close()
    print(f"converge: {'FAILED' if failures else 'passed'}: {failures} failing configuration(s); "
          f"totals {totals}; {time.time() - t0:.1f} s; seed {opts.seed}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
