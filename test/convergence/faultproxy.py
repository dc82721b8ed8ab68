"""A TCP proxy that can cut every connection through it at once: the "connection cut" fault of
the convergence checker (issue 19). The remote datasource's conninfo points at it, so the
executors' libpq connections to the remote end (reads, writes, commits) go through it; cut()
resets them all in the middle of whatever they were doing, as a network failure or a pooler
restart would. New connections are accepted again right away."""

from __future__ import annotations

import select
import socket
import struct
import threading


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.cuts = 0
        self.closed = False
        threading.Thread(target=self._accept, daemon=True, name="faultproxy-accept").start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True,
                             name="faultproxy-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket):
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    peers[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self._drop(a, b)

    def _drop(self, a, b):
        with self.lock:
            self.pairs = [p for p in self.pairs if p[0] is not a]
        for s in (a, b):
            try:
                s.close()
            except OSError:
                pass

    def cut(self) -> int:
        """Resets every open connection (RST to both ends); returns how many there were."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
            self.cuts += 1
        linger = struct.pack("ii", 1, 0)  # close() sends RST, not FIN: an abrupt failure
        for pair in pairs:
            for s in pair:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        return len(pairs)

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        self.cut()
