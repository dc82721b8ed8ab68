#!/usr/bin/env python3
"""SSE fan-out of dbsyncd: N subscribers to one job's /api/jobs/{id}/events; the job row is
updated in the catalog (psql) and every subscriber's arrival time of that change is recorded.

Prints one JSON line: subscribers, updates, events delivered, events/s, and the delay from the
catalog commit to the last subscriber receiving it (p50 / p99 / max over the updates).
Standard library only; one thread multiplexes every socket (selectors)."""
import argparse, json, selectors, socket, subprocess, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--job", type=int, required=True)
    ap.add_argument("--dbname", required=True)
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--updates", type=int, default=40)
    ap.add_argument("--interval", type=float, default=0.5)
    a = ap.parse_args()

    sel = selectors.DefaultSelector()
    subs = []
    req = (f"GET /api/jobs/{a.job}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Accept: text/event-stream\r\nAuthorization: Bearer {a.token}\r\n\r\n").encode()
    for i in range(a.subscribers):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(req)
        s.setblocking(False)
        st = {"buf": b"", "head": False, "seen": {}}
        subs.append(st)
        sel.register(s, selectors.EVENT_READ, st)

    events = 0

    def pump(timeout):
        nonlocal events
        for key, _ in sel.select(timeout):
            st = key.data
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fileobj)
                continue
            now = time.monotonic()
            st["buf"] += data
            if not st["head"]:
                end = st["buf"].find(b"\r\n\r\n")
                if end < 0:
                    continue
                if b" 200 " not in st["buf"][:end]:
                    sys.exit("subscriber refused: " + st["buf"][:end].decode(errors="replace"))
                st["head"] = True
                st["buf"] = st["buf"][end + 4:]
            # Chunk framing lines are not "data: " lines: scanning lines is enough here.
            while b"\n\n" in st["buf"]:
                block, st["buf"] = st["buf"].split(b"\n\n", 1)
                for line in block.split(b"\n"):
                    line = line.strip(b"\r")
                    if line.startswith(b"data: "):
                        try:
                            j = json.loads(line[6:])
                        except ValueError:
                            continue
                        events += 1
                        st["seen"].setdefault(j.get("scanned"), now)

    # Every subscriber has its first event before the measurement.
    deadline = time.monotonic() + 30
    while sum(1 for s in subs if s["seen"]) < len(subs):
        if time.monotonic() > deadline:
            sys.exit("not every subscriber got its first event")
        pump(0.1)
    events = 0
    commits = {}
    t_start = time.monotonic()
    for u in range(1, a.updates + 1):
        value = 1000000 + u
        subprocess.run(["psql", "-X", "-q", "-At", "-d", a.dbname, "-c",
                        f"UPDATE dbsync.jobs SET scanned = {value} WHERE id = {a.job}"],
                       check=True)
        commits[value] = time.monotonic()  # the commit is done when psql returns
        until = time.monotonic() + a.interval
        while time.monotonic() < until:
            pump(max(0.0, until - time.monotonic()))
    # Wait for the last change to reach everyone.
    last = 1000000 + a.updates
    deadline = time.monotonic() + 10
    while any(last not in s["seen"] for s in subs) and time.monotonic() < deadline:
        pump(0.1)
    elapsed = time.monotonic() - t_start
    delays = []
    missed = 0
    for value, t in commits.items():
        arrivals = [s["seen"].get(value) for s in subs]
        if any(x is None for x in arrivals):
            missed += 1  # coalesced into a later change for someone (changes within one tick)
            continue
        delays.append(max(arrivals) - t)
    delays.sort()

    def pct(p):
        return round(delays[min(len(delays) - 1, int(p * len(delays)))] * 1000, 1) if delays else None

    print(json.dumps({
        "subscribers": len(subs), "updates": a.updates, "events": events,
        "events_per_s": round(events / elapsed, 1), "changes_missed": missed,
        "delay_last_ms_p50": pct(0.50), "delay_last_ms_p99": pct(0.99),
        "delay_last_ms_max": round(delays[-1] * 1000, 1) if delays else None}))


if __name__ == "__main__":
    main()
