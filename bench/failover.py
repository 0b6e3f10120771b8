"""Client-visible outage when the load-balancing layer loses a piece, against the lab.

A client on the host opens a new connection to the API VIP every 10 ms (100 ms timeout) and
sends GET /v3 to Keystone through haproxy. One fault at a time:

- ``haproxy``: haproxy killed -9 on the VIP holder
- ``keepalived``: keepalived killed -9 on the VIP holder
- ``node``: the VIP holder powered off (``hastack lab kill``), then started again
- ``backend``: Keystone killed -9 on one controller (the VIP does not move; haproxy must
  hide it)

For each: failed requests and the longest gap between two successful answers. Then the same
faults against the classic configuration (``vrrp_script`` polling haproxy every second,
VRRPv2 with 1 s adverts), in the same run. After each fault the lab is let converge (the VIP
back on its preferred node) before the next.

Usage: python bench/failover.py  (needs `hastack lab up`; prints a final JSON line)
"""

import http.client
import json
import sys
import threading
import time

import yaml

from hastack.lab.lab import Lab

VIP_NAME = "api"
SERVICE = "keystone"
PORT = 5000
PATH = "/v3"
INTERVAL = 0.010
TIMEOUT = 0.100
SETTLE = 4.0           # seconds watched after the fault
CLASSIC = {"haproxy_check": "vrrp_script", "advert_int": 1, "vrrp_version": 2}


class Client(threading.Thread):
    """A new connection every INTERVAL, GET ``path``; records (time, answered 200)."""

    def __init__(self, address, port=PORT, path=PATH):
        super().__init__(daemon=True)
        self.address, self.port, self.path = address, port, path
        self.results = []      # (t, ok)
        self.stopping = threading.Event()

    def run(self):
        next_tick = time.monotonic()
        while not self.stopping.is_set():
            t = time.monotonic()
            ok = False
            try:
                conn = http.client.HTTPConnection(self.address, self.port, timeout=TIMEOUT)
                conn.request("GET", self.path)
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                pass
            except http.client.HTTPException:
                pass
            self.results.append((t, ok))
            next_tick += INTERVAL
            time.sleep(max(0.0, next_tick - time.monotonic()))
            if next_tick < time.monotonic():
                next_tick = time.monotonic()

    def stop(self):
        self.stopping.set()
        self.join()

    def figures(self, start, end):
        """Failed requests and the longest gap between two successes in [start, end)."""
        window = [(t, ok) for t, ok in self.results if start <= t < end]
        oks = [t for t, ok in window if ok]
        gaps = [b - a for a, b in zip(oks, oks[1:])]
        return {"failed": sum(1 for _, ok in window if not ok),
                "longest_gap_ms": round(max(gaps) * 1000) if gaps else None}


class Bench:
    def __init__(self):
        self.lab = Lab(progress=lambda *a: None)
        self.topo_path = self.lab.topology_path
        self.topo = self.lab.topology()
        self.vip = self.topo["vips"][VIP_NAME]["address"]
        self.preferred = self.topo["vips"][VIP_NAME]["nodes"][0]

    def holders(self):
        out = []
        for node in self.lab.all_nodes():
            if node.is_running():
                res = node.exec(["ip", "-4", "-o", "addr", "show"], timeout=10)
                if " %s/" % self.vip in res.stdout:
                    out.append(node.name)
        return out

    def sh(self, node, *argv):
        return self.lab.node(node).exec(list(argv), timeout=30)

    def converged(self):
        if self.holders() != [self.preferred]:
            return False
        try:
            conn = http.client.HTTPConnection(self.vip, PORT, timeout=1)
            conn.request("GET", PATH)
            return conn.getresponse().status == 200
        except OSError:
            return False

    def wait_converged(self, timeout=90):
        """The VIP on its preferred node alone, and answering."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.converged():
                return
            time.sleep(0.2)
        raise SystemExit("the lab did not converge: VIP %s held by %s" % (self.vip,
                                                                          self.holders()))

    def measure(self, name, inject, recover=None):
        """The fault, then the way back: ``failover`` is the SETTLE seconds after the fault;
        ``failback`` runs until the VIP is home again (preempt_delay, restarts) plus 1 s."""
        self.wait_converged()
        time.sleep(1.0)
        client = Client(self.vip)
        client.start()
        time.sleep(1.0)
        t_fault = time.monotonic()
        inject()
        time.sleep(SETTLE)
        t_back = time.monotonic()
        moved_to = self.holders()
        if recover:
            recover()
        self.wait_converged()
        time.sleep(1.0)
        client.stop()
        figures = {"failover": client.figures(t_fault, t_back),
                   "failback": client.figures(t_back, time.monotonic()),
                   "held_by_after_fault": moved_to}
        print("  %-11s %s" % (name, figures), file=sys.stderr)
        return figures

    def scenarios(self, with_node=True):
        holder = self.preferred
        backend = [n for n in self.topo["services"][SERVICE]["nodes"] if n != holder][0]
        out = {
            "haproxy": self.measure("haproxy", lambda: self.sh(
                holder, "systemctl", "kill", "-s", "KILL", "haproxy")),
            "keepalived": self.measure("keepalived", lambda: self.sh(
                holder, "systemctl", "kill", "-s", "KILL", "keepalived")),
        }
        if with_node:
            out["node"] = self.measure(
                "node", lambda: self.lab.kill(holder), lambda: self.lab.start(holder))
        out["backend"] = self.measure("backend", lambda: self.sh(
            backend, "systemctl", "kill", "-s", "KILL", SERVICE))
        return out

    def apply_lb(self, overrides):
        topo = dict(self.topo)
        topo["loadbalancer"] = dict(self.topo.get("loadbalancer", {}), **overrides)
        with open(self.topo_path, "w") as f:
            yaml.safe_dump({"hastack": topo}, f, default_flow_style=False, sort_keys=False)
        members = ",".join(self.topo["vips"][VIP_NAME]["nodes"])
        res = self.lab.master.cmd("salt", ["-L", members, "state.apply", "loadbalancer",
                                           "--out=json", "--static"], timeout=300)
        if res.returncode != 0:
            raise SystemExit("state.apply loadbalancer failed:\n" + res.stdout[-3000:])

    def restore(self):
        with open(self.topo_path, "w") as f:
            yaml.safe_dump({"hastack": self.topo}, f, default_flow_style=False, sort_keys=False)
        self.apply_lb({})


def main():
    bench = Bench()
    print("hastack (track_file, VRRPv3 %gs adverts):"
          % bench.topo.get("loadbalancer", {}).get("advert_int", 0.05), file=sys.stderr)
    hastack = bench.scenarios()
    print("classic (vrrp_script 1 s, VRRPv2 1 s adverts):", file=sys.stderr)
    try:
        bench.apply_lb(CLASSIC)
        classic = bench.scenarios()
    finally:
        bench.restore()
    print(json.dumps({"client": {"interval_ms": INTERVAL * 1000, "timeout_ms": TIMEOUT * 1000,
                                 "new_connection_per_request": True},
                      "hastack": hastack, "classic": classic}))


if __name__ == "__main__":
    main()
