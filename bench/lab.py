"""Lab figures: image build time (cold, from the cache's record, and cached), `hastack lab up`
time to every minion answering and to a finished deploy, memory per node and for the master.

Usage: python bench/lab.py   (takes the lab down first, leaves it up; `make down` after)
Prints progress, then one JSON line with the figures.
"""

import json
import os
import re
import subprocess
import sys
import time

from hastack.lab import image
from hastack.lab.lab import Lab
from hastack.lab.nodes import CGROUP_HIERARCHIES, CGROUP_PARENT


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            pass
    return total


def cgroup_pids(path):
    pids = set()
    for dirpath, _dirs, files in os.walk(path):
        if "cgroup.procs" in files:
            with open(os.path.join(dirpath, "cgroup.procs")) as f:
                pids.update(int(p) for p in f.read().split())
    return pids


def group_pids(pgid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def main():
    hastack = [sys.executable, "-m", "hastack.cli"]
    subprocess.run(hastack + ["lab", "down"], check=True, capture_output=True)
    started = time.monotonic()
    proc = subprocess.Popen(hastack + ["lab", "up"], stdout=subprocess.PIPE, text=True)
    minions_at = None
    for line in proc.stdout:
        print(line, end="", file=sys.stderr)
        match = re.search(r"minions answer test.ping \(([\d.]+) s", line)
        if match:
            minions_at = float(match.group(1))
    if proc.wait() != 0:
        sys.exit("hastack lab up failed")
    up_total = time.monotonic() - started

    t = time.monotonic()
    image.build(progress=lambda *a: None)
    cached = time.monotonic() - t
    with open(os.path.join(image.image_dir(), "complete")) as f:
        cold = float(f.read())

    lab = Lab(progress=lambda *a: None)
    time.sleep(5)  # let the minions settle after the deploy
    nodes = {}
    for node in lab.all_nodes():
        pids = cgroup_pids(os.path.join(CGROUP_HIERARCHIES[0], CGROUP_PARENT, node.name))
        nodes[node.name] = round(pss_kib(pids) / 1024, 1)
    master = round(pss_kib(group_pids(lab.master.pid())) / 1024, 1)
    print(json.dumps({
        "image_build_cold_s": round(cold, 1),
        "image_build_cached_s": round(cached, 2),
        "lab_up_to_minions_answering_s": minions_at,
        "lab_up_with_deploy_s": round(up_total, 1),
        "node_pss_mib": nodes,
        "master_pss_mib": master,
    }))


if __name__ == "__main__":
    main()
