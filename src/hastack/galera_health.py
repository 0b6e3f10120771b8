"""The Galera health endpoint haproxy checks: 200 only when this node is Synced, in a Primary
component and ready; 503 otherwise (donor, joining, non-Primary, down).

    python -m hastack.galera_health --bind 198.18.10.11 --port 9200

Run as root (it reads wsrep status over MariaDB's local socket, as root). A systemd unit
from the ``galera`` state runs it on every Galera node.
"""

import argparse
import http.server
import threading
import time

import pymysql

from hastack import galera

SOCKET = "/run/mysqld/mysqld.sock"


def connect():
    """Root over the local socket (Debian's MariaDB authenticates root by unix_socket)."""
    return pymysql.connect(unix_socket=SOCKET, user="root", connect_timeout=1, read_timeout=5)


def local_status():
    try:
        conn = connect()
    except pymysql.MySQLError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            return galera.status_from_wsrep(dict(cur.fetchall()))
    except pymysql.MySQLError:
        return None
    finally:
        conn.close()


class Prober:
    """The endpoint's view of wsrep status: one persistent connection (every load balancer
    checks every 200 ms; a new connection per check cost a fifth of a core per node), a
    reconnect when it breaks (MariaDB restarted), and an answer reused for ``max_age``
    seconds so simultaneous checks share one query."""

    def __init__(self, connect=connect, max_age=0.1, clock=time.monotonic):
        self._connect = connect
        self._conn = None
        self._lock = threading.Lock()
        self._max_age = max_age
        self._clock = clock
        self._last = (None, float("-inf"))

    def _query(self):
        if self._conn is None:
            self._conn = self._connect()
        with self._conn.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'wsrep_%'")
            return galera.status_from_wsrep(dict(cur.fetchall()))

    def _drop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.MySQLError:
                pass
        self._conn = None

    def status(self):
        with self._lock:
            value, at = self._last
            if self._clock() - at < self._max_age:
                return value
            try:
                value = self._query()
            except pymysql.MySQLError:
                # A broken connection (MariaDB restarted): one fresh try, then "down".
                self._drop()
                try:
                    value = self._query()
                except pymysql.MySQLError:
                    self._drop()
                    value = None
            self._last = (value, self._clock())
            return value


PROBER = Prober()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status = PROBER.status()
        ok = galera.healthy(status)
        body = ("%s %s\n" % (status["state_comment"], "Primary" if status["primary"]
                             else "non-Primary") if status else "MariaDB not answering\n")
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, default=9200)
    args = parser.parse_args(argv)
    http.server.ThreadingHTTPServer((args.bind, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
