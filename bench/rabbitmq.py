"""RabbitMQ figures in the lab: cluster form time (from a fresh lab's deploy), the quorum
queue's leader change after its node is killed -9 while 1000 persistent messages are
published with confirms (polled through Salt: an upper bound), and confirmed / lost message counts.

Usage: python bench/rabbitmq.py   (takes the lab down and up first; prints a final JSON line)
"""

import json
import os
import re
import subprocess
import sys
import threading
import time

import pika
import yaml

from hastack.lab import load
from hastack.lab.lab import Lab

MEMBERS = ["ctl1", "ctl2", "ctl3"]
QUEUE = "hastack-bench-quorum"


def leader(lab, node):
    res = lab.master.cmd("salt", [node, "ha_rabbitmq.queues", "--out=json", "--static"],
                         timeout=60)
    try:
        return json.loads(res.stdout)[node][QUEUE]["leader"]
    except (ValueError, KeyError, TypeError):
        return None


def main():
    hastack = [sys.executable, "-m", "hastack.cli"]
    subprocess.run(hastack + ["lab", "down"], check=True, capture_output=True)
    up = subprocess.run(hastack + ["lab", "up", "--no-deploy"], capture_output=True, text=True)
    if up.returncode != 0:
        sys.exit(up.stdout[-3000:] + up.stderr[-3000:])
    lab = Lab(progress=lambda *a: None)
    t = time.monotonic()
    res = lab.master.cmd("salt-run", ["state.orchestrate", "orch.deploy"], timeout=1800)
    if res.returncode != 0:
        sys.exit(res.stdout[-3000:])
    # The RabbitMQ steps' own durations, from the orchestration's output.
    durations = [float(d) for d in re.findall(
        r"ID: hastack-rabbitmq[-\w]*\n\s+Function: salt\.state\n(?:.*\n){3}\s+Duration: "
        r"([\d.]+) ms", res.stdout)]
    form = sum(durations) / 1000
    print("deploy %.1f s, RabbitMQ steps %.1f s" % (time.monotonic() - t, form),
          file=sys.stderr)

    with open(os.path.join(lab.dir, "pillar", "hastack", "secrets.sls")) as f:
        password = yaml.safe_load(f)["hastack"]["secrets"]["rabbitmq_users"]["openstack"]
    creds = pika.PlainCredentials("openstack", password)
    addrs = {n: lab.node(n).address for n in MEMBERS}
    conn = pika.BlockingConnection(load.amqp_params(creds, addrs.values()))
    conn.channel().queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    conn.close()
    first = leader(lab, "ctl1")
    others = [n for n in MEMBERS if n != first]
    change = {}

    def kill_and_time():
        lab.node(first).exec(["systemctl", "kill", "-s", "KILL", "rabbitmq-server"])
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            if leader(lab, others[0]) in others:
                change["s"] = time.monotonic() - t0
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_and_time)
    confirmed = load.publish_confirmed(load.amqp_params(creds, [addrs[n] for n in others]),
                                       QUEUE, 1000, at=300, action=watcher.run)
    consumed = load.consume_all(load.amqp_params(creds, [addrs[n] for n in others]), QUEUE)
    print(json.dumps({
        "rabbitmq_cluster_form_s": round(form, 1),
        "leader_change_s": round(change["s"], 2) if "s" in change else None,
        "confirmed": len(confirmed),
        "lost": len(confirmed - consumed),
    }))


if __name__ == "__main__":
    main()
