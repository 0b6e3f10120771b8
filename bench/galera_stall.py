"""How long commits stall when a Galera member dies hard, for values of
``hastack:services:galera:suspect_timeout`` (Galera's evs.suspect_timeout).

For each value, then Galera's default (so the lab ends as deployed): the lab's pillar gets
the value, `state.apply galera` writes the config, the members restart one at a time (the
database VIP's active server last, each Synced in a full Primary component before the next;
auto-healing paused meanwhile), the running value is read back from the members, and the
chaos suite's kill-mariadb scenario runs: mariadbd killed -9 on the database VIP's active
server under the load. Figures per value: the longest time the writer went without an
acknowledged row, the unit's return, failed tokens, rows lost.

Usage: python bench/galera_stall.py [SECONDS ...]   (default: 2; needs `hastack lab up`;
prints a final JSON line)
"""

import json
import sys
import time

from hastack.lab import load
from hastack.lab.chaos import Chaos
from hastack.lab.client import LabClient


def say(msg):
    print(msg, file=sys.stderr)


def running_suspect_timeout(lab, node):
    options = load.sql(lab.lab.node(node), "SELECT @@wsrep_provider_options")
    found = [o.strip() for o in options.split(";") if o.strip().startswith("evs.suspect_timeout")]
    return found[0].split("=", 1)[1].strip() if found else None


def apply(lab, members, value):
    topo = lab.lab.topology()
    galera = topo["services"]["galera"]
    if value is None:
        galera.pop("suspect_timeout", None)
    else:
        galera["suspect_timeout"] = value
    lab.lab.write_pillar(topo)
    targets = ",".join(members)
    lab.salt("-L", targets, "saltutil.refresh_pillar", timeout=120)
    out = lab.salt("-L", targets, "state.apply", "galera", timeout=600)
    if not all(isinstance(r, dict) and all(s.get("result") for s in r.values())
               for r in out.values()):
        raise SystemExit("state.apply galera failed: %s" % json.dumps(out)[:3000])
    res = lab.salt_run("hastack.heal_pause", "reason=bench/galera_stall.py rolling restart")
    if res.returncode != 0:
        raise SystemExit(res.stdout + res.stderr)
    nodes = [lab.lab.node(n) for n in members]
    try:
        for node in list(reversed(members[1:])) + members[:1]:     # the writer last
            say("[stall] restarting mariadb on %s" % node)
            lab.sh(node, "systemctl", "restart", "mariadb", timeout=600)
            lab.wait_for(lambda: load.galera_whole(nodes), timeout=600,
                         what="every member Synced after %s's restart" % node)
    finally:
        lab.salt_run("hastack.heal_resume")
    return {n: running_suspect_timeout(lab, n) for n in members}


def main():
    values = [float(v) for v in sys.argv[1:]] or [2.0]
    lab = LabClient()
    chaos = Chaos(lab, progress=say)
    members = chaos.topo["services"]["galera"]["nodes"]
    scenario = dict(chaos.scenarios())["kill-mariadb"]
    out = {}
    for value in values + [None]:
        running = apply(lab, members, value)
        say("[stall] suspect_timeout %s: running %s" % (value, running))
        figures = chaos.run("kill-mariadb", **scenario)
        out["default" if value is None else "%g" % value] = {
            "running": running,
            "rows_gap_s": figures["rows_gap_s"],
            "unit_back_s": figures["unit_back_s"],
            "token_failed": figures["token_failed"],
            "rows_lost": figures["rows_lost"],
            "rows_acked": figures["rows_acked"],
        }
        time.sleep(1)
    print(json.dumps({"kill": "mariadbd -9 on the database VIP's active server, under load",
                      "suspect_timeout": out}))


if __name__ == "__main__":
    main()
