"""Galera figures in the lab: the layer's deploy time (bootstrap + joins), a single node's
rejoin after kill -9, and a full outage (mariadbd killed -9 on every node) under a writer that
commits through the database VIP one row at a time, recovered by `salt-run
hastack.galera_recover`: recovery time, acknowledged rows, rows lost.

Usage: python bench/galera.py   (takes the lab down and up first; prints a final JSON line)
"""

import json
import re
import secrets
import subprocess
import sys
import threading
import time

from hastack.lab import load
from hastack.lab.lab import Lab

MEMBERS = ["ctl1", "ctl2", "ctl3"]


def synced(node, size=3):
    try:
        return (load.wsrep(node, "wsrep_local_state_comment") == "Synced"
                and load.wsrep(node, "wsrep_cluster_size") == str(size))
    except RuntimeError:
        return False


def wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    raise SystemExit("timed out")


def main():
    hastack = [sys.executable, "-m", "hastack.cli"]
    subprocess.run(hastack + ["lab", "down"], check=True, capture_output=True)
    up = subprocess.run(hastack + ["lab", "up"], capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(up.stdout[-3000:] + up.stderr[-3000:])
    deploy = float(re.search(r"Primary component of 3 nodes in ([\d.]+) s", up.stdout).group(1))
    print("galera layer deployed in %.1f s" % deploy, file=sys.stderr)

    lab = Lab(progress=lambda *a: None)
    nodes = {n: lab.node(n) for n in MEMBERS}
    connect = load.database(nodes["ctl1"], secrets.token_urlsafe(16))

    t = time.monotonic()
    nodes["ctl3"].exec(["systemctl", "kill", "-s", "KILL", "mariadb"])
    wait(lambda: load.wsrep(nodes["ctl1"], "wsrep_cluster_size") == "2", 30)
    wait(lambda: synced(nodes["ctl3"]), 300)
    rejoin = time.monotonic() - t
    print("single node rejoin (kill -9, systemd restart, IST) %.1f s" % rejoin, file=sys.stderr)

    writer = load.Writer(connect)
    writer.start()
    time.sleep(3)
    killers = [threading.Thread(target=n.exec, args=(["systemctl", "kill", "-s", "KILL",
                                                      "mariadb"],)) for n in nodes.values()]
    for k in killers:
        k.start()
    for k in killers:
        k.join()
    time.sleep(1)
    writer.stop()
    t = time.monotonic()
    res = lab.master.cmd("salt-run", ["hastack.galera_recover"], timeout=900)
    if res.returncode != 0:
        sys.exit(res.stdout + res.stderr)
    recovery = time.monotonic() - t
    print(res.stdout, file=sys.stderr)
    lost = writer.lost(connect, MEMBERS)
    print(json.dumps({
        "galera_deploy_s": deploy,
        "single_node_rejoin_s": round(rejoin, 1),
        "full_outage_recovery_s": round(recovery, 1),
        "acknowledged_rows": len(writer.acked),
        "rows_lost": len(lost),
    }))


if __name__ == "__main__":
    main()
