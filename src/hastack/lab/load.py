"""Steady load through the VIPs for the lab's tests and benchmarks."""

import threading
import time

import pymysql

from hastack.lab.layout import node_address


class Writer(threading.Thread):
    """Inserts increasing ids into ``table`` through the database VIP, one autocommit
    statement at a time; ``acked`` holds the ids whose commit was acknowledged, ``acked_at``
    when (time.monotonic())."""

    def __init__(self, connect, table="acked"):
        super().__init__(daemon=True)
        self.connect = connect
        self.table = table
        self.acked = []
        self.acked_at = []
        self.errors = 0
        self.stopping = threading.Event()

    def run(self):
        conn, i = None, 0
        while not self.stopping.is_set():
            i += 1
            try:
                if conn is None:
                    conn = self.connect()
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO %s (id) VALUES (%%s)" % self.table, (i,))
                self.acked.append(i)
                self.acked_at.append(time.monotonic())
            except (pymysql.MySQLError, OSError):
                self.errors += 1
                conn = None
                time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join()

    def lost(self, connect, nodes=None, timeout=120):
        """Acknowledged ids missing from the table now, on any of ``nodes`` (lab node names;
        None: whichever node the database VIP leads to). Each node is read causally
        (``wsrep_sync_wait``): a node applies other members' writesets a little after they
        committed, and a plain read there can miss the last ones without any being lost.
        The database may still be coming back: connecting is retried for ``timeout`` seconds.
        ``missing`` keeps what each node lacked."""
        self.missing = {}
        for name in nodes or [None]:
            host = DB_VIP if name is None else str(node_address(name))
            present = self._present(connect, host, timeout)
            self.missing[name or DB_VIP] = sorted(set(self.acked) - present)
        return sorted(set().union(*self.missing.values()))

    def _present(self, connect, host, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = connect(host)
                break
            except (pymysql.MySQLError, OSError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(1)
        try:
            with conn.cursor() as cur:
                # 1: a read waits until this node has applied every writeset committed in
                # the cluster before it started.
                cur.execute("SET SESSION wsrep_sync_wait = 1")
                cur.execute("SELECT id FROM %s" % self.table)
                return {row[0] for row in cur.fetchall()}
        finally:
            conn.close()


DB_VIP = "198.18.10.101"


def longest_gap(times, start, end):
    """The longest stretch between ``start`` and ``end`` with none of ``times`` in it (what a
    client saw as an outage: no row acknowledged, no message confirmed), in seconds."""
    marks = [start] + sorted(t for t in times if start < t < end) + [end]
    return max(b - a for a, b in zip(marks, marks[1:]))


def sql(node, statement):
    """Run SQL as root over the node's local socket; returns the tab-separated output."""
    res = node.exec(["mysql", "-N", "-B", "-e", statement], timeout=60)
    if res.returncode != 0:
        raise RuntimeError("mysql on %s: %s" % (node.name, res.stderr.strip()))
    return res.stdout.strip()


def wsrep(node, var):
    return sql(node, "SHOW GLOBAL STATUS LIKE '%s'" % var).split("\t")[-1]


def galera_whole(nodes):
    """Every one of ``nodes`` (lab nodes) Synced in one Primary component of their number;
    False while one cannot be asked."""
    try:
        return all(wsrep(n, "wsrep_local_state_comment") == "Synced" and
                   wsrep(n, "wsrep_cluster_size") == str(len(nodes)) for n in nodes)
    except (RuntimeError, OSError):
        return False


def database(node, password):
    """A database ``hastack_test`` with an empty table ``acked`` (a Writer counts from 1: rows
    an earlier writer left would refuse its inserts) and a user for the lab's subnet (its
    password replaced, so a lab reused from an earlier run works too); returns a function
    that connects through the database VIP, or to the address it is given."""
    sql(node, "CREATE DATABASE IF NOT EXISTS hastack_test; "
        "CREATE OR REPLACE USER 'tester'@'198.18.10.%%' IDENTIFIED BY '%s'; "
        "GRANT ALL ON hastack_test.* TO 'tester'@'198.18.10.%%'; "
        "CREATE OR REPLACE TABLE hastack_test.acked (id INT PRIMARY KEY)" % password)

    def connect(host=DB_VIP):
        return pymysql.connect(host=host, user="tester", password=password,
                               database="hastack_test", autocommit=True, connect_timeout=1,
                               read_timeout=3, write_timeout=3)
    return connect


def amqp_params(credentials, addresses, port=5672):
    """pika connection parameters for each address, tried in order (clients list every node)."""
    import pika

    return [pika.ConnectionParameters(a, port, "/", credentials, connection_attempts=1,
                                      socket_timeout=2, blocked_connection_timeout=10)
            for a in addresses]


def publish_confirmed(params, queue, total, at=None, action=None):
    """Publish ids 0..total-1 as persistent messages, each confirmed by the broker; after a
    failure reconnect (to any of ``params``) and publish the unconfirmed one again. Calls
    ``action`` in a thread when id ``at`` is reached. Returns the confirmed ids."""
    import pika

    confirmed, i = set(), 0
    fault = threading.Thread(target=action) if action else None
    while i < total:
        try:
            conn = pika.BlockingConnection(params)
            ch = conn.channel()
            ch.confirm_delivery()
            while i < total:
                if fault is not None and i == at and fault.ident is None:
                    fault.start()
                ch.basic_publish("", queue, str(i).encode(), mandatory=True,
                                 properties=pika.BasicProperties(delivery_mode=2))
                confirmed.add(i)
                i += 1
            conn.close()
        except (pika.exceptions.AMQPError, OSError):
            time.sleep(0.2)
    if fault is not None and fault.ident is not None:
        fault.join()
    return confirmed


def consume_all(params, queue):
    """Every id left in ``queue``."""
    import pika

    consumed = set()
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            break
        consumed.add(int(body))
    conn.close()
    return consumed

