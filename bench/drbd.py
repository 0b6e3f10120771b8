"""DRBD figures in the lab's qemu VMs: `hastack lab drbd up` (VM image build or cache, boot to
minions answering, DRBD + MariaDB deploy, initial sync), then with rows written to MariaDB on
the Primary: a clean move (`salt-run hastack.drbd_failover mysql to=OTHER`) and a hard power
off of the Primary's VM followed by the reactor's automatic promotion. For each, the runner's
or the outage's duration as a client sees it (a new connection to the service's address every
0.2 s, 2 s connect timeout: the VMs are software-emulated), and the rows read back.

Usage: python bench/drbd.py   (needs `hastack lab up`; leaves the VMs up; final JSON line)
"""

import json
import re
import secrets
import subprocess
import sys
import threading
import time

import pymysql

from hastack.lab import layout, vm
from hastack.lab.lab import Lab

ADDRESS = str(layout.SUBNET.network_address + layout.DRBD_SERVICE_ADDRESS)


def salt(lab, *args, timeout=120):
    res = lab.master.cmd("salt", list(args) + ["--out=json", "--static"], timeout=timeout)
    return json.loads(res.stdout or "{}")


def primary(lab):
    sts = salt(lab, "-L", ",".join(layout.DRBD_VMS), "ha_drbd.status", "mysql")
    return [n for n, st in sts.items() if isinstance(st, dict) and st["role"] == "Primary"][0]


class Prober(threading.Thread):
    """A new connection and a SELECT every 0.2 s; the longest gap between two successes."""

    def __init__(self, connect):
        super().__init__(daemon=True)
        self.connect = connect
        self.stop = threading.Event()
        self.last_ok = None
        self.gap = 0.0
        self.failed = 0

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            try:
                conn = self.connect(timeout=2)
                with conn.cursor() as cur:
                    cur.execute("SELECT COUNT(*) FROM items")
                conn.close()
                if self.last_ok is not None:
                    self.gap = max(self.gap, t - self.last_ok)
                self.last_ok = t
            except pymysql.MySQLError:
                self.failed += 1
            time.sleep(max(0, 0.2 - (time.monotonic() - t)))


def main():
    lab = Lab(progress=lambda *a: None)
    built = vm.is_built()
    t = time.monotonic()
    up = subprocess.run([sys.executable, "-m", "hastack.cli", "lab", "drbd", "up"],
                        capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(up.stdout[-3000:] + up.stderr[-3000:])
    up_s = time.monotonic() - t
    boot = float(re.search(r"answer test.ping \(([\d.]+) s\)", up.stdout).group(1))
    with open(vm.image_dir() + "/complete") as f:
        image_s = float(f.read())
    print("lab drbd up %.1f s (VMs answering %.1f s; image %s)"
          % (up_s, boot, "cached" if built else "built in %.0f s" % image_s), file=sys.stderr)

    password = secrets.token_urlsafe(16)
    node = primary(lab)
    sql = ("CREATE DATABASE IF NOT EXISTS bench; CREATE OR REPLACE USER 'bench'@'%%' "
           "IDENTIFIED BY '%s'; GRANT ALL ON bench.* TO 'bench'@'%%'; CREATE OR REPLACE "
           "TABLE bench.items (id INT PRIMARY KEY) ENGINE=InnoDB;" % password)
    assert salt(lab, node, "cmd.run_all", "mariadb", "stdin=" + sql)[node]["retcode"] == 0

    def connect(timeout=5):
        return pymysql.connect(host=ADDRESS, user="bench", password=password, database="bench",
                               connect_timeout=timeout, read_timeout=30, autocommit=True)

    def write(start, n):
        conn = connect()
        with conn.cursor() as cur:
            for i in range(start, start + n):
                cur.execute("INSERT INTO items VALUES (%s)", (i,))
        conn.close()
        return n

    def count():
        conn = connect()
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items")
            n = cur.fetchone()[0]
        conn.close()
        return n

    written = write(1, 500)
    other = [n for n in layout.DRBD_VMS if n != node][0]
    probe = Prober(connect)
    probe.start()
    res = lab.master.cmd("salt-run", ["hastack.drbd_failover", "mysql", "to=" + other],
                         timeout=900)
    if res.returncode != 0:
        sys.exit(res.stdout + res.stderr)
    move_s = float(re.search(r"active on \S+ in ([\d.]+) s", res.stdout).group(1))
    time.sleep(2)
    probe.stop.set()
    probe.join()
    move_rows, move_gap, move_failed = count(), probe.gap, probe.failed
    print("clean move %s -> %s: runner %.1f s, longest client gap %.1f s, %d failed probes, "
          "%d/%d rows" % (node, other, move_s, probe.gap, probe.failed, move_rows, written),
          file=sys.stderr)

    written += write(written + 1, 500)
    probe = Prober(connect)
    probe.start()
    time.sleep(1)
    killed = time.monotonic()
    vm.lab_vm(lab, other).power_off()
    deadline = killed + 600
    while time.monotonic() < deadline:
        if probe.last_ok is not None and probe.last_ok > killed:
            break
        time.sleep(0.1)
    else:
        sys.exit("MariaDB did not come back within 600 s of the power-off")
    auto_s = probe.last_ok - killed
    probe.stop.set()
    probe.join()
    auto_rows = count()
    print("power-off of %s: MariaDB answering on %s after %.1f s, %d/%d rows"
          % (other, node, auto_s, auto_rows, written), file=sys.stderr)
    vm.lab_vm(lab, other).start(vm.image_dir())

    print(json.dumps({
        "vm_image_build_s": None if built else round(image_s, 1),
        "drbd_up_s": round(up_s, 1), "vms_answering_s": boot,
        "clean_move_runner_s": move_s, "clean_move_client_gap_s": round(move_gap, 1),
        "clean_move_failed_probes": move_failed,
        "clean_move_rows": [move_rows, 500],
        "power_off_to_serving_s": round(auto_s, 1), "power_off_rows": [auto_rows, written],
    }))


if __name__ == "__main__":
    main()
