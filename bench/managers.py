"""Pacemaker, keepalived, systemd and hastack's reactor side by side, one client, one run.

The same client as bench/failover.py (a new connection every 10 ms, 100 ms timeout, GET /)
watches a small HTTP unit while one fault is made; the figure is what the client saw: failed
requests and the longest gap between two answers. The lab's units answer on port 8080:

- ``failover``: the node holding the address is powered off (``hastack lab kill``).
  - keepalived: the ``api`` VIP, through haproxy, to the lab's echo backends.
  - Pacemaker: the cluster's ``lab-vip`` and ``lab-vip-echo`` colocated with it (corosync
    token and monitor intervals from the lab's ``hastack:cluster``).
- ``restart``: the unit's process is killed -9 on its node; who brings it back in place.
  - systemd: ``lab-echo`` (``Restart=always``, ``RestartSec=1``), on a controller's own address.
  - hastack's reactor: the same unit with a runtime drop-in ``Restart=no``, so only the
    ``ha_health`` beacon and ``salt-run hastack.heal`` can start it again.
  - Pacemaker: ``lab-vip-echo`` (no ``Restart=``; Pacemaker's monitor notices and restarts).

After each fault the node is started again and the lab let settle before the next.

Usage: python bench/managers.py  (needs `hastack lab up`; prints a final JSON line)
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from failover import Client  # noqa: E402  (the same client as the load-balancer bench)

from hastack.lab import layout  # noqa: E402
from hastack.lab.client import LabClient  # noqa: E402

WINDOW = 30.0          # seconds watched after each fault
PORT = layout.ECHO_PORT
DROPIN = "/run/systemd/system/lab-echo.service.d"


def watch(address, fault, window=WINDOW):
    """Start the client on ``address``, make the fault, watch ``window`` seconds."""
    client = Client(address, PORT, "/")
    client.start()
    time.sleep(1.0)
    t_fault = time.monotonic()
    fault()
    time.sleep(window)
    client.stop()
    return client.figures(t_fault, t_fault + window)


def cluster_ready(lab, node="ctl2", timeout=180):
    res = lab.salt(node, "ha_cluster.wait_ready", "timeout=%d" % timeout,
                   timeout=timeout + 60).get(node)
    if not (isinstance(res, dict) and res.get("ready")):
        raise SystemExit("the Pacemaker cluster did not settle: %s" % res)


def settle(lab, name):
    """``name`` started again, the VIPs home, the cluster whole, the plane green."""
    lab.lab.start(name)
    lab.wait_for(lambda: lab.ping([name], timeout=3) == {name}, timeout=180,
                 what=name + "'s minion")
    res = lab.salt_run("hastack.status", "wait=300", "--out=json", timeout=400)
    if res.returncode != 0:
        raise SystemExit("the plane is not green after %s came back:\n%s"
                         % (name, res.stdout[-2000:]))
    cluster_ready(lab)


def main():
    lab = LabClient()
    topo = lab.lab.topology()
    api = topo["vips"]["api"]["address"]
    cluster_vip = topo["cluster"]["resources"]["lab-vip"]["vip"]
    out = {"client": {"interval_ms": 10, "timeout_ms": 100, "new_connection_per_request": True},
           "window_s": WINDOW, "failover": {}, "restart": {}}
    cluster_ready(lab)

    def report(kind, who, figures):
        out[kind][who] = figures
        print("  %-8s %-11s %s" % (kind, who, figures), file=sys.stderr)

    # -- failover: the holder's power goes -------------------------------------------------
    holder = lab.holders(api)[0]
    report("failover", "keepalived", watch(api, lambda: lab.lab.kill(holder)))
    settle(lab, holder)
    holder = lab.holders(cluster_vip)[0]
    report("failover", "pacemaker", watch(cluster_vip, lambda: lab.lab.kill(holder)))
    settle(lab, holder)

    # -- restart in place: the unit's process killed -9 ------------------------------------
    node = topo["services"]["echo"]["nodes"][1]
    own = topo["nodes"][node]["address"]

    def kill(n, unit):
        return lambda: lab.sh(n, "systemctl", "kill", "-s", "KILL", unit)

    report("restart", "systemd", watch(own, kill(node, "lab-echo")))
    lab.sh(node, "sh", "-c", "mkdir -p %s && printf '[Service]\\nRestart=no\\n' > %s/bench.conf"
           " && systemctl daemon-reload" % (DROPIN, DROPIN))
    try:
        lab.salt_run("hastack.heal_reset", "resource=service:%s:lab-echo" % node)
        report("restart", "reactor", watch(own, kill(node, "lab-echo")))
    finally:
        lab.sh(node, "sh", "-c", "rm -rf %s && systemctl daemon-reload && "
               "systemctl start lab-echo" % DROPIN)
    holder = lab.holders(cluster_vip)[0]
    report("restart", "pacemaker", watch(cluster_vip, kill(holder, "lab-vip-echo")))
    lab.salt(holder, "ha_cluster.cleanup", "lab-vip-echo")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
