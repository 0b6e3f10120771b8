"""Steady load through the VIPs for the lab's tests and benchmarks."""

import threading
import time

import pymysql


class Writer(threading.Thread):
    """Inserts increasing ids into ``table`` through the database VIP, one autocommit
    statement at a time; ``acked`` holds the ids whose commit was acknowledged."""

    def __init__(self, connect, table="acked"):
        super().__init__(daemon=True)
        self.connect = connect
        self.table = table
        self.acked = []
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
            except (pymysql.MySQLError, OSError):
                self.errors += 1
                conn = None
                time.sleep(0.05)

    def stop(self):
        self.stopping.set()
        self.join()

    def lost(self, connect):
        """Acknowledged ids missing from the table now."""
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT id FROM %s" % self.table)
                present = {row[0] for row in cur.fetchall()}
        finally:
            conn.close()
        return sorted(set(self.acked) - present)


DB_VIP = "198.18.10.101"


def sql(node, statement):
    """Run SQL as root over the node's local socket; returns the tab-separated output."""
    res = node.exec(["mysql", "-N", "-B", "-e", statement], timeout=60)
    if res.returncode != 0:
        raise RuntimeError("mysql on %s: %s" % (node.name, res.stderr.strip()))
    return res.stdout.strip()


def wsrep(node, var):
    return sql(node, "SHOW GLOBAL STATUS LIKE '%s'" % var).split("\t")[-1]


def database(node, password):
    """A database ``hastack_test`` with a table ``acked`` and a user for the lab's subnet
    (its password replaced, so a lab reused from an earlier run works too); returns a
    function that connects through the database VIP."""
    sql(node, "CREATE DATABASE IF NOT EXISTS hastack_test; "
        "CREATE OR REPLACE USER 'tester'@'198.18.10.%%' IDENTIFIED BY '%s'; "
        "GRANT ALL ON hastack_test.* TO 'tester'@'198.18.10.%%'; "
        "CREATE TABLE IF NOT EXISTS hastack_test.acked (id INT PRIMARY KEY)" % password)

    def connect():
        return pymysql.connect(host=DB_VIP, user="tester", password=password,
                               database="hastack_test", autocommit=True, connect_timeout=1,
                               read_timeout=3, write_timeout=3)
    return connect
