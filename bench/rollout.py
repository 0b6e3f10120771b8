"""Rollout figures: a cold `orch.deploy` on fresh nodes with the time of each phase (and the
Neutron network-node phase in all), the idempotent re-run (its time and how many states
changed), Keystone tokens per second through the API VIP, and a rolling restart of the
network nodes' agents (`hastack.neutron_restart`: seconds until each node's agents are alive
again).

Cold means: the lab torn down, nodes booted fresh from the cached image (their disks empty),
then `salt-run state.orchestrate orch.deploy`. The phases are the orchestration's own steps
(their durations as Salt reports them).

Usage: python bench/rollout.py [--controllers 3 --network 2] [--token-seconds 20]
(takes the lab down first and leaves it up; `make down` after). Prints one JSON line.
"""

import argparse
import json
import sys
import threading
import time

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from hastack import keystone
from hastack.lab.client import orchestration
from hastack.lab.lab import Lab


def orchestrate(lab):
    """Run orch.deploy; returns (seconds, {step: seconds}, changed, failed steps)."""
    started = time.monotonic()
    res = lab.master.cmd("salt-run", ["state.orchestrate", "orch.deploy", "--out=json"],
                         timeout=3600)
    took = time.monotonic() - started
    try:
        steps, changed = orchestration(res.stdout)
    except ValueError:
        raise SystemExit("orch.deploy printed no JSON (exit %d):\n%s%s"
                         % (res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
    phases = {s["name"]: s["seconds"] for s in steps}
    failed = [s["name"] for s in steps if s["result"] is False]
    return took, phases, changed, failed


def tokens_per_second(topo, seconds, threads=4):
    url = keystone.auth_url(topo)
    counts, errors = [0] * threads, [0] * threads
    stop = time.monotonic() + seconds

    def worker(i):
        while time.monotonic() < stop:
            auth = v3.Password(auth_url=url, username="admin",
                               password=topo["secrets"]["keystone_admin_password"],
                               project_name="admin", user_domain_id="default",
                               project_domain_id="default")
            try:
                ks_session.Session(auth=auth, timeout=5).get_token()
                counts[i] += 1
            except Exception:  # noqa: BLE001 - a failed request is a figure here
                errors[i] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"url": url, "threads": threads, "seconds": seconds,
            "tokens_per_s": round(sum(counts) / seconds, 1), "failed": sum(errors)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--controllers", type=int, default=3)
    ap.add_argument("--network", type=int, default=2)
    ap.add_argument("--token-seconds", type=float, default=20)
    args = ap.parse_args()
    lab = Lab(progress=lambda msg: print(msg, file=sys.stderr))
    lab.down()
    started = time.monotonic()
    lab.up(args.controllers, args.network, deploy=False)
    boot = time.monotonic() - started
    topo = lab.topology(with_secrets=True)
    lab.lab_services(topo)
    print("[bench] cold orch.deploy", file=sys.stderr)
    cold, phases, _, failed = orchestrate(lab)
    if failed:
        raise SystemExit("cold deploy failed at %s" % failed)
    print("[bench] re-run", file=sys.stderr)
    rerun, _, changed, failed = orchestrate(lab)
    print("[bench] tokens through the VIP", file=sys.stderr)
    tokens = tokens_per_second(topo, args.token_seconds)
    network = {"phase_s": round(sum(v for k, v in phases.items()
                                    if k.startswith("hastack-neutron-agents-")), 1)}
    if "neutron" in topo["services"]:
        print("[bench] rolling restart of the network nodes' agents", file=sys.stderr)
        res = lab.master.cmd("salt-run", ["hastack.neutron_restart", "--out=json"],
                             timeout=1800)
        restart = json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}
        network["agents_back_s"] = restart.get("seconds")
        network["restart_ok"] = res.returncode == 0
    print(json.dumps({"nodes": {"controllers": args.controllers, "network": args.network},
                      "boot_to_minions_s": round(boot, 1), "cold_deploy_s": round(cold, 1),
                      "phases_s": phases, "rerun_s": round(rerun, 1),
                      "rerun_changes": len(changed), "rerun_changed": changed,
                      "rerun_failed": failed, "tokens": tokens, "network_nodes": network}))


if __name__ == "__main__":
    main()
