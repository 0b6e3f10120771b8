"""
hastack runners: cluster-wide views and actions, run on the master.

``salt-run hastack.validate`` checks the topology pillar before anything is changed;
``orch.deploy`` calls it first and stops on any error. ``salt-run hastack.vips`` says who
holds every VIP, and flags one held twice or by nobody. ``salt-run hastack.galera_recover``
brings Galera up (first deploy, a node down, or every node down) without losing a row.
"""

import contextlib
import fcntl
import json
import logging
import os
import re
import socket
import time

import salt.client
import salt.pillar
import salt.utils.minions

try:
    from hastack import galera, loadbalancer, membership, neutron, topology, vip

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

log = logging.getLogger(__name__)

__virtualname__ = "hastack"


def __virtual__():
    if not HAS_HASTACK:
        return (False, "hastack runner: the hastack package is not importable by the master's "
                       "Python; pip install hastack there")
    return __virtualname__


def _pillar(minion=None):
    """The pillar a minion (default: the master's own id) would get, compiled on the master."""
    minion = minion or __opts__["id"]
    id_, grains, _ = salt.utils.minions.get_minion_data(minion, __opts__)
    pillar = salt.pillar.Pillar(__opts__, grains or {"fqdn": minion}, id_ or minion, "base")
    return pillar.compile_pillar()


def validate(minion=None):
    """
    Validate the ``hastack`` topology pillar; every error names its pillar field.

    Returns ``{"result": True/False, "errors": [...]}`` and exits non-zero on errors, so an
    orchestration step that calls it stops the rollout before anything is changed.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.validate
        salt-run hastack.validate minion=ctl1
    """
    pillar = _pillar(minion)
    errors = list(pillar.get("_errors", []))
    errors += topology.validate(pillar.get("hastack"))
    if errors:
        return _fail({"result": False, "errors": errors})
    topo = pillar["hastack"]
    return {"result": True, "errors": [],
            "summary": "%d nodes, %d VIPs, %d services" % (
                len(topo["nodes"]), len(topo.get("vips", {})), len(topo.get("services", {})))}


def _fail(ret):
    # __context__ fails an orchestration step; "retcode" in the return sets the exit code of
    # salt-run (salt/cli/run.py reads it there).
    __context__["retcode"] = 1
    ret["retcode"] = 1
    return ret


def vips(wait=0, minion=None):
    """
    Who holds each VIP, asked live from every load balancer: ``ok`` (one holder),
    ``missing`` (none), ``split-brain`` (several) or ``unknown`` (a possible holder did not
    answer). Exits non-zero unless every VIP is ``ok``; with ``wait=SECONDS`` it asks again
    until they are, or the time is up (a rollout's health gate).

    CLI Example:

    .. code-block:: bash

        salt-run hastack.vips
        salt-run hastack.vips wait=30
    """
    topo = _pillar(minion).get("hastack") or {}
    nodes = loadbalancer.lb_nodes(topo)
    deadline = time.monotonic() + float(wait)
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        while True:
            answers = client.cmd(nodes, "ha_vip.held", tgt_type="list", timeout=5)
            held = {n: list(a) for n, a in answers.items() if isinstance(a, dict)}
            report = vip.holders_report(topo, held, [n for n in nodes if n not in held])
            if all(r["status"] == "ok" for r in report.values()):
                return {"result": True, "vips": report}
            if time.monotonic() >= deadline:
                return _fail({"result": False, "vips": report})
            time.sleep(1)


# A member outside any Primary component gets this long to stop cleanly (ha_galera.stop).
# One that systemd started after a full outage ignores SIGTERM while it waits for a Primary
# component and has not opened InnoDB yet (MariaDB opens its engines after it finds one,
# for an rsync or mariabackup SST): waiting longer only delays the recovery (5 s before
# 2026-11-25: 7 of the 42 s of a recovery after the power loss of every controller).
STUCK_KILL_AFTER = 1


class _Galera:
    """The cluster-wide Galera steps, over Salt; every decision is hastack.galera's."""

    def __init__(self, client, members, say):
        self.client = client
        self.members = members
        self.say = say

    def call(self, nodes, fun, arg=(), timeout=60, kwarg=None):
        return self.client.cmd(nodes, fun, arg=list(arg), tgt_type="list", timeout=timeout,
                               kwarg=kwarg)

    def reports(self, **kwarg):
        # A report that stops a member first may wait for its kill and its recovery.
        answers = self.call(self.members, "ha_galera.report", kwarg=kwarg,
                            timeout=300 if kwarg else 30)
        return {n: galera.Report.from_dict(n, a) for n, a in answers.items()
                if isinstance(a, dict)}

    def wait_synced(self, node, size=None, timeout=600, rejoin=None, rejoins=2):
        """Wait until ``node`` is Synced in a Primary component (of ``size`` at least).
        ``rejoin``: the node is a joiner, started with these ha_galera.join arguments; one
        stuck outside the Primary component while it joins (``galera.joiner_stuck``: evicted
        on a loaded host, it never retries) is started again, ``rejoins`` times at most."""
        started = time.monotonic()
        outside_since, status = None, None
        while time.monotonic() < started + timeout:
            status = self.call([node], "ha_galera.status").get(node)
            if galera.healthy(status) and (size is None or status["cluster_size"] >= size):
                return status
            now = time.monotonic()
            outside = rejoin is not None and isinstance(status, dict) \
                and not status.get("primary")
            outside_since = (outside_since or now) if outside else None
            if outside and galera.joiner_stuck(status, now - outside_since):
                if not rejoins:
                    break
                rejoins -= 1
                self.say("%s: %s outside the Primary component while joining: starting it "
                         "again" % (node, status.get("cluster_status") or "non-Primary"))
                self.start_all([node], "ha_galera.join", rejoin)
                outside_since = None
                continue
            time.sleep(1)
        raise RuntimeError("node %s is not Synced in a Primary component after %d s (last: "
                           "%s); see `journalctl -u mariadb` on %s"
                           % (node, time.monotonic() - started, status, node))

    def start(self, node, fun, arg=()):
        self.start_all([node], fun, arg)

    def start_all(self, nodes, fun, arg=()):
        """``fun`` on every node of ``nodes`` at once; each must succeed."""
        answers = self.call(nodes, fun, arg, timeout=900)
        failed = {n: answers.get(n) for n in nodes
                  if not (isinstance(answers.get(n), dict) and answers[n].get("result"))}
        if failed:
            raise RuntimeError("; ".join("%s on %s failed: %s" % (fun, n, ret)
                                         for n, ret in sorted(failed.items())))


def _state_dir():
    """The master's own hastack state (locks, heal log and damping): its cachedir."""
    path = os.path.join(__opts__["cachedir"], "hastack")
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def _flock(name, wait=None):
    """An exclusive lock on the master's ``name`` file, across threads and processes. Yields
    True once held; with ``wait`` (seconds, 0: not at all) yields False when another holder
    kept it that long, instead of waiting on."""
    with open(os.path.join(_state_dir(), name), "w") as f:
        if wait is None:
            fcntl.flock(f, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        yield False
                        return
                    time.sleep(0.2)
        try:
            yield True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _galera_lock():
    """One recovery at a time: the operator's and the reactor's never interleave; the
    second finds the Primary component the first made, and only joins."""
    return _flock("galera.lock")


def galera_recover(node=None, dry_run=False, timeout=600, minion=None):
    """
    Bring the Galera cluster up with every member Synced, keeping its history.

    Asks every member for its position, elects the node that must bootstrap (the rules are
    in hastack/galera.py: a node that cannot report blocks the automatic path; a different
    cluster UUID or an unreadable seqno refuses), writes each node's recovered seqno into its
    grastate.dat so joiners get IST, bootstraps the winner, then starts the others together
    (each takes IST from the Primary; a joiner that needs SST while the donor is busy waits
    for it, Galera retries) and waits for all of them Synced. A running Primary component is
    joined, never replaced. Prints each step, its decision and the seconds since the start.

    node
        bootstrap this node whatever the rules say (the operator's choice, for when a node
        is lost for good).
    dry_run
        only show the reports and the decision.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.galera_recover dry_run=True
        salt-run hastack.galera_recover
        salt-run hastack.galera_recover node=ctl2
    """
    topo = _pillar(minion).get("hastack") or {}
    members = list(topo.get("services", {}).get("galera", {}).get("nodes", []))
    steps = []
    started = time.monotonic()

    def say(msg):
        msg = "+%.1fs %s" % (time.monotonic() - started, msg)
        steps.append(msg)
        print("[galera] " + msg)

    if not members:
        return _fail({"result": False, "steps": ["no hastack:services:galera:nodes in pillar"]})
    with _galera_lock(), salt.client.get_local_client(__opts__["conf_file"]) as client:
        cluster = _Galera(client, members, say)
        reports = cluster.reports()
        stuck = [n for n, r in reports.items() if r.running and not r.primary]
        acted = []
        if stuck and not any(r.primary for r in reports.values()) and not dry_run:
            # Running but outside any Primary component (restarted after a full outage):
            # their positions are only readable once stopped. None serves: each stops,
            # killed if it waits for a Primary component, and reports in the same call (a
            # round trip less: 4-5 s of a recovery under load on 2026-12-08).
            say("%s: running outside a Primary component: stopping" % ", ".join(stuck))
            reports = cluster.reports(stop_outside_primary=True, kill_after=STUCK_KILL_AFTER)
            acted.extend("stopped %s" % name for name in members
                         if name in reports and reports[name].stopped)
        for name in members:
            say("%s: %s" % (name, galera.describe(reports.get(name))))
        decision = galera.elect(members, reports, node)
        say("decision: %s %s: %s" % (decision.action, decision.node, decision.reason))
        # What this run changed (empty when the cluster was already whole): a re-run of
        # orch.deploy counts it.
        out = {"result": decision.ok, "decision": decision.as_dict(), "steps": steps,
               "acted": acted}
        if not decision.ok:
            return _fail(out)
        if dry_run:
            say("dry run: nothing changed")
            return out
        try:
            if decision.action == "bootstrap":
                # One call writes them all (one by one took 4.6 s each under load).
                plan = galera.grastate_plan(decision, reports)
                rets = cluster.call(sorted(plan), "ha_galera.write_grastate",
                                    kwarg={"by_node": plan})
                for name, text in sorted(plan.items()):
                    ret = rets.get(name)
                    if not (isinstance(ret, dict) and ret.get("result")):
                        raise RuntimeError("writing grastate.dat on %s failed: %s"
                                           % (name, ret))
                    state = galera.parse_grastate(text)
                    say("%s: grastate.dat seqno %d%s" % (name, state["seqno"],
                        " safe_to_bootstrap: 1" if state["safe_to_bootstrap"] else ""))
            # Donors authenticate mariabackup with the SST user: it must exist before any
            # join. A bootstrap makes it in the same call (a round trip less: 5.3 s of a
            # recovery under load on 2026-11-25).
            sst_user = topo["services"]["galera"].get("sst_method") == "mariabackup"
            if decision.action in ("bootstrap", "new"):
                say("%s: bootstrapping a Primary component" % decision.node)
                acted.append("bootstrapped %s" % decision.node)
                cluster.start(decision.node, "ha_galera.bootstrap",
                              ["sst_user=True"] if sst_user else [])
                cluster.wait_synced(decision.node, timeout=timeout)
                say("%s: Synced, Primary%s" % (decision.node,
                                               ", SST user present" if sst_user else ""))
            elif sst_user:
                cluster.start(decision.node, "ha_galera.ensure_sst_user")
                say("%s: SST user present" % decision.node)
            joiners = [n for n in decision.joiners
                       if not (reports.get(n) is not None and reports[n].running
                               and reports[n].synced and reports[n].primary)]
            if joiners:
                synced = [n for n, r in reports.items() if r.running and r.synced and r.primary]
                donor = galera.sst_donors(members, synced)
                say("%s: joining%s" % (", ".join(joiners),
                                       " (donors %s)" % donor if donor else ""))
                acted.extend("joined %s" % name for name in joiners)
                join_args = [donor] if donor else []
                cluster.start_all(joiners, "ha_galera.join", join_args)
                for name in joiners:
                    status = cluster.wait_synced(name, timeout=timeout, rejoin=join_args)
                    say("%s: Synced, cluster size %d" % (name, status["cluster_size"]))
            final = cluster.wait_synced(decision.node, size=len(members), timeout=timeout)
        except RuntimeError as exc:
            say("FAILED: %s" % exc)
            out["result"] = False
            return _fail(out)
    say("Primary component of %d nodes in %.1f s" % (final["cluster_size"],
                                                     time.monotonic() - started))
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def drain_departed(dry_run=False, timeout=600, minion=None):
    """
    Drain every node the pillar no longer names but that still carries this cluster's
    membership mark, before the remaining nodes are reconfigured (``orch.deploy`` calls this
    right after validating); and take a node that stays in the pillar but left
    ``hastack:cluster:nodes`` out of Corosync/Pacemaker. The order and the reasons are in
    hastack/membership.py. A departed node that does not answer is drained from the remaining
    members' side; the steps that would run on it are reported as skipped. Stops at the first
    failed step.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.drain_departed dry_run=True
        salt-run hastack.drain_departed
    """
    topo = _pillar(minion).get("hastack") or {}
    started = time.monotonic()
    steps = []

    def say(msg):
        msg = "+%.1fs %s" % (time.monotonic() - started, msg)
        steps.append(msg)
        print("[membership] " + msg)

    name = topo.get("cluster_name", "hastack")
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        marks = client.cmd("%s:cluster:%s" % (membership.MARK_GRAIN, name), "grains.get",
                           [membership.MARK_GRAIN], tgt_type="grain", timeout=10)
        gone = membership.departed(topo, marks)
        leaving = membership.left_cluster(topo, marks)
        out = {"result": True, "departed": gone, "left_cluster": leaving, "steps": steps}
        if not gone and not leaving:
            say("no departed node: every node marked for cluster %s is in the pillar" % name)
            return out
        plans = [(node, membership.drain_plan(topo, node, marks[node]),
                  "%s left the pillar (it ran %s)" % (
                      node, ", ".join(marks[node].get("parts", [])) or "nothing"))
                 for node in gone]
        plans += [(node, membership.leave_cluster_plan(node),
                   "%s left hastack:cluster:nodes (it stays for its other parts)" % node)
                  for node in leaving]
        for node, plan, why in plans:
            say("%s: %d steps" % (why, len(plan)))
            for step in plan:
                where = step["on"] if isinstance(step["on"], list) else [step["on"]]
                if dry_run:
                    say("would: %s (%s on %s)" % (step["what"], step["fun"], ", ".join(where)))
                    continue
                got = client.cmd(where, step["fun"], step["args"], tgt_type="list",
                                 timeout=timeout, kwarg=step["kwargs"])
                failed = {}
                for target in where:
                    ret = got.get(target)
                    if target not in got:
                        if target == node:
                            say("skipped (%s does not answer): %s" % (node, step["what"]))
                            continue
                        failed[target] = "no answer"
                    elif _step_failed(ret):
                        failed[target] = ret
                if failed:
                    say("FAILED: %s: %s" % (step["what"], failed))
                    out["result"] = False
                    return _fail(out)
                if all(t in got for t in where):
                    say(step["what"])
            say("%s drained: left alone" % node if node in gone
                else "%s is out of the cluster" % node)
    out["seconds"] = round(time.monotonic() - started, 1)
    return out


def _step_failed(ret):
    """A drain step's answer that says it failed: False, text (every step's function returns
    a bool or a dict; text is Salt's error: an exception, a function not available), a list
    (a state that did not compile), a ``result: False`` dict or a state run with a failed
    state."""
    if ret is False or isinstance(ret, (str, list)):
        return True
    if isinstance(ret, dict):
        if ret.get("result") is False:
            return True
        states = [v for v in ret.values() if isinstance(v, dict) and "result" in v]
        return any(v["result"] is False for v in states)
    return False


def neutron_restart(nodes=None, timeout=180, minion=None):
    """
    Restart the Neutron agents of the network nodes (default: all, ``nodes``: a comma
    list), one node at a time, in :func:`hastack.neutron.rolling_plan`'s order (a node with
    a dead agent first). Each node refuses when another host has no live agent of a kind it
    runs, and is waited for until its agents are alive with a ``started_at`` newer than the
    restart; the first failure stops the run. Healing leaves a node alone while it restarts.
    ``active_passive``: only the node running the agent group restarts (an outage of it).

    CLI Example:

    .. code-block:: bash

        salt-run hastack.neutron_restart
        salt-run hastack.neutron_restart nodes=net2
    """
    topo = _pillar(minion).get("hastack") or {}
    if "neutron" not in (topo.get("services") or {}):
        return _fail({"result": False, "comment": "the topology has no Neutron"})
    if _heal.pacemaker_agents(topo):
        return _fail({"result": False, "comment": "Pacemaker runs the Neutron agents "
                      "(hastack:cluster:resources): restart them with Pacemaker "
                      "(crm_resource --restart --resource NAME)"})
    wanted = nodes.split(",") if isinstance(nodes, str) else list(nodes or
                                                                  neutron.agent_nodes(topo))
    started = time.monotonic()
    out = {"result": True, "steps": [], "seconds": {}}

    def say(msg):
        out["steps"].append("+%.1fs %s" % (time.monotonic() - started, msg))
        print("[neutron] " + out["steps"][-1])

    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        servers = neutron.server_nodes(topo)
        got = client.cmd(servers, "ha_neutron.agents", kwarg={"hosted": False},
                         tgt_type="list", timeout=30)
        agents = next((a["agents"] for a in got.values()
                       if isinstance(a, dict) and a.get("ok")), None)
        if agents is None:
            return _fail(dict(out, result=False, comment="no Neutron server answered: %s"
                              % got))
        passive = neutron.passive(topo)
        if passive:          # one node runs the group: restarting it is its outage, forced
            keeper = neutron.group_keeper(neutron.agent_nodes(topo), agents)
            say("active_passive: the agent group runs on %s" % (keeper or "no node"))
            wanted = [n for n in wanted if n == keeper]
        for node in neutron.rolling_plan(wanted, agents):
            with _heal_claim("neutron:%s" % node, wait=timeout) as held:
                say("%s: restarting its agents%s" % (node, "" if held else
                                                     " (a heal of it ran past %s s)" % timeout))
                ret = client.cmd([node], "ha_neutron.restart_agents",
                                 kwarg={"timeout": timeout, "force": passive},
                                 tgt_type="list", timeout=timeout + 60).get(node)
            if not isinstance(ret, dict) or not ret["result"]:
                say("%s: %s" % (node, ret["comment"] if isinstance(ret, dict) else ret))
                return _fail(dict(out, result=False))
            out["seconds"][node] = ret["seconds"]
            say("%s: %s" % (node, ret["comment"]))
    return out


# ---------------------------------------------------------------------------------------------
# hastack.status: the whole plane in one table (issue 6). Self-contained: what to ask, the
# verdict and the table are hastack.status's; this block only asks and hands the answers over.
# ---------------------------------------------------------------------------------------------

try:
    from hastack import status as _plane
except ImportError:  # __virtual__ already refuses to load without the hastack package
    _plane = None


def _status_ask(client, nodes, fun, timeout=5, **kwargs):
    """``{node: answer}``; a minion that did not return answers Salt's "Minion did not
    return" text, which hastack.status reads as unknown."""
    if not nodes:
        return {}
    return client.cmd(nodes, fun, tgt_type="list", timeout=timeout, **kwargs)


def _status_answers(client, topo):
    """Every node's raw answers for ``hastack.status.summarize``: test.ping first, then, of
    the nodes that answered it, each node's layer functions in one multi-function call
    (``hastack.status.batches``); a service-wide check whose node turns out to be another
    is asked there afterwards."""
    # A node that is down costs timeout + gather_job_timeout (10 s by default) here; a live
    # minion answers the find_job query at once, so 2 s is enough.
    pinged = _status_ask(client, list(topo.get("nodes") or {}), "test.ping",
                         gather_job_timeout=2)
    answers = {"ping": {n: a is True for n, a in pinged.items()}}
    answers.update({section: {} for section, _, _ in _plane.plan(topo)})
    asked = {}
    for nodes, calls in _plane.batches(topo, [n for n, up in answers["ping"].items() if up]):
        got = client.cmd(nodes, [fun for _, fun in calls], [[] for _ in calls],
                         tgt_type="list", timeout=10)
        for node, ret in got.items():
            for key, fun in calls:
                # A minion that did not return answers Salt's text, read as unknown.
                asked.setdefault(key, {})[node] = ret.get(fun) if isinstance(ret, dict) \
                    else ret
    for section in answers:
        answers[section].update(asked.get(section) or {})
    services = topo.get("services") or {}
    for key, fun, service in _plane.WIDE:
        if service not in services:
            continue
        node = _plane.answer_node(topo, answers, service)
        answers[key + "_node"] = node
        if node and node in (asked.get(key) or {}):
            answers[key] = asked[key][node]
        else:
            answers[key] = (_status_ask(client, [node], fun, timeout=20).get(node)
                            if node else None)
    return answers


def status(wait=0, out=None, minion=None):
    """
    The whole plane in one table: nodes up/down; who holds each VIP (one held twice or by
    nobody); haproxy backends per service as each load balancer sees them; Galera state,
    size and seqno per node; RabbitMQ nodes, running nodes, partitions and alarms; Keystone
    health per node and whether the catalog names only VIPs; Neutron's API per node and
    every agent (node, type, alive, since, what it hosts). Problems are listed at the end.

    Exits non-zero unless everything is green; with ``wait=SECONDS`` it asks again until it
    is, or the time is up (a rollout's health gate). ``--out=json`` prints the structured
    report (``green``, ``problems``, one section per layer) instead of the table;
    ``out=json`` returns it to a caller that is not a terminal (an orchestration step).

    CLI Example:

    .. code-block:: bash

        salt-run hastack.status
        salt-run hastack.status --out=json
        salt-run hastack.status wait=120
    """
    topo = _pillar(minion).get("hastack") or {}
    as_json = __opts__.get("output") == "json" or out == "json"
    deadline = time.monotonic() + float(wait)
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        while True:
            report = _plane.summarize(topo, _status_answers(client, topo))
            if report["green"] or time.monotonic() >= deadline:
                break
            time.sleep(1)
    if as_json:
        return report if report["green"] else _fail(report)
    text = _plane.render(report)
    if report["green"]:
        return text
    # salt-run takes its exit code only from a returned dict's "retcode": print the table as
    # is, then return the verdict in a dict that carries it.
    print(text, end="")
    return _fail({"green": False, "problems": len(report["problems"])})


# ------------------------------------------------------------------------------------------------
# DRBD: active/passive services on replicated block devices (hastack:drbd). The decisions are
# hastack.drbd's (promotion, auto_promotion); these runners gather the nodes' views over Salt
# and act in order.
# ------------------------------------------------------------------------------------------------

import salt.utils.event  # noqa: E402 (this section's own imports)

try:
    from hastack import drbd as _drbd
except ImportError:
    _drbd = None

# How long one look waits for the old Primary's minion, and for a TCP answer from its node.
DRBD_PING_TIMEOUT = 5
DRBD_KNOCK_TIMEOUT = 2


def _answers_tcp(address, port, timeout=DRBD_KNOCK_TIMEOUT):
    """Does a kernel answer at ``address:port``? Connected or refused: yes. Silence or no
    route: no."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "accepted"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return None


def _drbd_signs_of_life(r, topo, lost, say):
    """The old Primary's signs of life over the watch window (``drbd.DEAD_AFTER`` s, at
    least two looks): ``[]`` only if it stayed silent throughout."""
    probes = [(what, addr, port) for what, addr, port in _drbd.life_probes(topo, r.name)
              if what in lost or what == "service address"]
    started, looks = time.monotonic(), 0
    while True:
        looks += 1
        seen = r.call(lost, "test.ping", timeout=DRBD_PING_TIMEOUT,
                      gather_job_timeout=DRBD_PING_TIMEOUT)
        signs = ["%s answered test.ping" % n for n in sorted(n for n, ok in seen.items()
                                                             if ok is True)]
        for what, addr, port in probes:
            answer = _answers_tcp(addr, port)
            if answer:
                signs.append("%s %s:%d answered TCP (%s)" % (what, addr, port, answer))
        waited = time.monotonic() - started
        if signs:
            say("look %d (+%.0fs): %s" % (looks, waited, "; ".join(signs)))
            return signs
        say("look %d (+%.0fs): no sign of %s" % (looks, waited, ", ".join(lost)))
        if looks >= 2 and waited >= _drbd.DEAD_AFTER:
            return []
        time.sleep(min(3.0, max(0.0, _drbd.DEAD_AFTER - waited)))


class _Drbd:
    """One resource across its nodes, over Salt."""

    def __init__(self, client, name, res, say):
        self.client = client
        self.name = name
        self.nodes = list(res["nodes"])
        self.say = say

    def call(self, nodes, fun, arg=(), timeout=60, **kwargs):
        return self.client.cmd(list(nodes), fun, arg=list(arg), tgt_type="list",
                               timeout=timeout, **kwargs)

    def statuses(self, nodes=None, timeout=30, attempts=2):
        """``{node: Status}`` of the nodes that answered (a busy node is asked twice)."""
        wanted, out = list(nodes or self.nodes), {}
        for _ in range(attempts):
            answers = self.call([n for n in wanted if n not in out], "ha_drbd.status",
                                [self.name], timeout=timeout)
            out.update({n: _drbd.Status.from_dict(a) for n, a in answers.items()
                        if isinstance(a, dict)})
            if all(n in out for n in wanted):
                break
        return out

    def act(self, node, fun, arg=(), timeout=600, attempts=3):
        """Run an idempotent ha_drbd step on ``node``. A return lost on the way (a busy
        master or minion) is asked for again by repeating the step: done, it says so."""
        ret = None
        for _ in range(attempts):
            ret = self.call([node], fun, [self.name] + list(arg),
                            timeout=max(30, timeout // attempts)).get(node)
            if ret is not None:
                break
            self.say("%s: no answer to %s; asking again" % (node, fun))
        if not (isinstance(ret, dict) and ret.get("result")):
            raise RuntimeError("%s %s on %s failed: %s" % (fun, self.name, node,
                                                           ret.get("comment") if
                                                           isinstance(ret, dict) else ret))
        return ret

    def wait(self, node, predicate, what, timeout=120):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.statuses([node]).get(node)
            if st is not None and predicate(st):
                return st
            time.sleep(0.5)
        raise RuntimeError("%s on %s: %s not reached after %d s (last: %s)"
                           % (self.name, node, what, timeout, _drbd.describe(st)))

    def log(self, statuses):
        for node in self.nodes:
            self.say("%s: %s" % (node, _drbd.describe(statuses.get(node))))


def _drbd_topo(resource, minion):
    if _drbd is None:
        raise RuntimeError("hastack.drbd is not importable by the master's Python")
    topo = _pillar(minion).get("hastack") or {}
    found = _drbd.resources(topo)
    if resource is not None and resource not in found:
        raise RuntimeError("hastack:drbd:resources:%s: no such resource (known: %s)"
                           % (resource, ", ".join(sorted(found)) or "none"))
    return topo, ({resource: found[resource]} if resource is not None else found)


def _sayer(steps):
    def say(msg):
        steps.append(msg)
        print("[drbd] " + msg)
    return say


def drbd_status(resource=None, minion=None):
    """
    Every DRBD resource's state on each of its nodes (role, disk, connection, peer, sync
    progress, split-brain), asked live. Exits non-zero when a resource has no Primary, two,
    or a split-brain.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.drbd_status
        salt-run hastack.drbd_status mysql
    """
    steps = []
    say = _sayer(steps)
    try:
        _, found = _drbd_topo(resource, minion)
    except RuntimeError as exc:
        return _fail({"result": False, "steps": [str(exc)]})
    out = {"result": True, "resources": {}, "steps": steps}
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        for name, res in sorted(found.items()):
            r = _Drbd(client, name, res, lambda m, n=name: say("%s %s" % (n, m)))
            sts = r.statuses()
            r.log(sts)
            primaries = [n for n, st in sts.items() if st.role == "Primary"]
            split = [n for n, st in sts.items() if st.split_brain]
            out["resources"][name] = {n: st.as_dict() for n, st in sts.items()}
            if split:
                say("%s: SPLIT-BRAIN on %s; %s" % (name, ", ".join(split),
                                                   _drbd.split_brain_recovery(name)))
            if len(primaries) != 1 or split:
                out["result"] = False
    return out if out["result"] else _fail(out)


def drbd_up(resource=None, timeout=600, minion=None):
    """
    Make every DRBD resource (or ``resource``) served: its Primary gets the filesystem
    mounted, the service started and the service's address; with no Primary yet, the first
    node the promotion rules allow is promoted. Never moves a running Primary. A resource
    Pacemaker runs (``manager: pacemaker``) is only made ready once, before Pacemaker runs
    it (filesystem and the service's data, then left Secondary); while pacemaker is active
    on one of its nodes, it is left alone.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.drbd_up
    """
    steps = []
    say = _sayer(steps)
    try:
        _, found = _drbd_topo(resource, minion)
    except RuntimeError as exc:
        return _fail({"result": False, "steps": [str(exc)]})
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        for name, res in sorted(found.items()):
            r = _Drbd(client, name, res, lambda m, n=name: say("%s %s" % (n, m)))
            pacemaker = res.get("manager") == "pacemaker"
            if pacemaker:
                running = sorted(n for n, a in r.call(r.nodes, "service.status",
                                                      ["pacemaker"]).items() if a is True)
                if running:
                    say("%s: Pacemaker runs it (pacemaker active on %s); nothing to do"
                        % (name, ", ".join(running)))
                    continue
            sts = r.statuses()
            r.log(sts)
            primaries = [n for n in r.nodes if n in sts and sts[n].role == "Primary"]
            target, decision = (primaries[0] if primaries else None), None
            for node in ([] if primaries else r.nodes):
                decision = _drbd.promotion(name, r.nodes, node, sts)
                r.say("%s: %s (%s)" % (node, decision.action, decision.reason))
                if decision.ok:
                    target = node
                    break
            if target is None:
                say("%s: no node may be promoted" % name)
                return _fail({"result": False, "steps": steps})
            try:
                # Pacemaker's: made ready on one node and left passive for Pacemaker to run.
                ret = r.act(target, "ha_drbd.prepare" if pacemaker else "ha_drbd.promote",
                            [bool(decision and decision.force)], timeout=timeout)
            except RuntimeError as exc:
                say("FAILED: %s" % exc)
                return _fail({"result": False, "steps": steps})
            say("%s %s on %s: %s" % (name, "ready for Pacemaker" if pacemaker else "active",
                                     target, ret["comment"]))
    return {"result": True, "steps": steps}


def drbd_failover(resource, to=None, force=False, timeout=600, minion=None):
    """
    Move DRBD resource ``resource`` and its service cleanly to node ``to`` (default: the
    node that is not Primary): stop the service, drop its address, unmount and demote on the
    Primary, then promote, mount, start and take the address on ``to``. The rules are in
    hastack/drbd.py: ``to`` must have an UpToDate disk and nobody else may be Primary; it is
    checked before anything is stopped, and if the promotion is still refused after the
    demotion, the old Primary is promoted back. Prints each step.

    force
        with ``to``: promote ``to`` even though its disk is not UpToDate (the operator's
        word; it may lose the writes it lacks).

    CLI Example:

    .. code-block:: bash

        salt-run hastack.drbd_failover mysql
        salt-run hastack.drbd_failover mysql to=db2
        salt-run hastack.drbd_failover mysql to=db2 force=True
    """
    steps = []
    say = _sayer(steps)
    if force and not to:
        return _fail({"result": False, "steps": ["force=True needs to=NODE: the operator "
                                                 "names the node"]})
    try:
        _, found = _drbd_topo(resource, minion)
    except RuntimeError as exc:
        return _fail({"result": False, "steps": [str(exc)]})
    res = found[resource]
    refusal = _drbd.pacemaker_refusal(resource, res)
    if refusal:
        return _fail({"result": False, "steps": [refusal]})
    started = time.monotonic()
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        r = _Drbd(client, resource, res, say)
        sts = r.statuses()
        r.log(sts)
        primaries = [n for n in r.nodes if n in sts and sts[n].role == "Primary"]
        target = to or next((n for n in r.nodes if n not in primaries), None)
        # Would the target be allowed once the Primary stepped down? Checked before any stop.
        if target in primaries:
            plan = _drbd.Decision("already", target, "%s is already Primary on %s"
                                  % (resource, target))
        else:
            after = {n: _drbd.Status.from_dict(dict(st.as_dict(), role="Secondary")
                                               if n in primaries else st.as_dict())
                     for n, st in sts.items()}
            if target in after and after[target].peer_role == "Primary":
                after[target].peer_role = "Secondary"
            plan = _drbd.promotion(resource, r.nodes, target, after, force=bool(force))
        say("decision: %s %s: %s" % (plan.action, plan.node, plan.reason))
        out = {"result": plan.ok, "decision": plan.as_dict(), "steps": steps}
        if not plan.ok:
            return _fail(out)
        try:
            if plan.action == "already":
                ret = r.act(target, "ha_drbd.promote")
                say("%s: %s" % (target, ret["comment"]))
                return out
            for old in primaries:
                ret = r.act(old, "ha_drbd.demote")
                say("%s: %s" % (old, ret["comment"]))
            if primaries:
                r.wait(target, lambda st: st.peer_role != "Primary", "peer no longer Primary",
                       timeout=60)
            decision = _drbd.promotion(resource, r.nodes, target, r.statuses(),
                                       force=bool(force))
            say("%s: %s (%s)" % (target, decision.action, decision.reason))
            if not decision.ok:
                for old in primaries:
                    say("%s: promoting back" % old)
                    r.act(old, "ha_drbd.promote")
                out.update(result=False, decision=decision.as_dict())
                return _fail(out)
            ret = r.act(target, "ha_drbd.promote", [decision.force], timeout=timeout)
            say("%s: %s" % (target, ret["comment"]))
        except RuntimeError as exc:
            say("FAILED: %s" % exc)
            out["result"] = False
            return _fail(out)
    out["seconds"] = round(time.monotonic() - started, 1)
    say("%s active on %s in %.1f s" % (resource, target, out["seconds"]))
    return out


def drbd_autopromote(resource, survivor, lost="", minion=None):
    """
    The reactor's answer to ``salt/beacon/SURVIVOR/ha_drbd/peer-lost``: promote ``survivor``
    only if the master no longer sees the old Primary (``lost``: its node names, comma
    separated; default the resource's other nodes) AND the survivor's disk is UpToDate, by
    the rule in hastack/drbd.py (``auto_promotion``). Fires ``hastack/drbd/autopromote``
    with the decision either way.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.drbd_autopromote mysql survivor=db2
    """
    steps = []
    say = _sayer(steps)
    try:
        topo, found = _drbd_topo(resource, minion)
    except RuntimeError as exc:
        return _fail({"result": False, "steps": [str(exc)]})
    res = found[resource]
    refusal = _drbd.pacemaker_refusal(resource, res)
    if refusal:
        # A beacon left from before the switch to Pacemaker: refused, never acted on.
        say(refusal)
        return _fail({"result": False, "steps": steps,
                      "decision": _drbd.Decision("refuse", survivor, refusal).as_dict()})
    lost = [n for n in (lost.split(",") if isinstance(lost, str) else list(lost or [])) if n]
    lost = lost or [n for n in res["nodes"] if n != survivor]
    started = time.monotonic()
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        r = _Drbd(client, resource, res, say)
        signs = _drbd_signs_of_life(r, topo, lost, say)
        say("master sees %s" % ("; ".join(signs) if signs else
                                "no sign of %s for %d s" % (", ".join(lost),
                                                            time.monotonic() - started)))
        st = r.statuses([survivor]).get(survivor)
        say("%s: %s" % (survivor, _drbd.describe(st)))
        decision = _drbd.auto_promotion(resource, survivor, st, ", ".join(lost), signs)
        say("decision: %s %s: %s" % (decision.action, decision.node, decision.reason))
        out = {"result": decision.ok, "decision": decision.as_dict(), "steps": steps}
        if decision.action == "promote":
            try:
                ret = r.act(survivor, "ha_drbd.promote")
                say("%s: %s" % (survivor, ret["comment"]))
            except RuntimeError as exc:
                say("FAILED: %s" % exc)
                out["result"] = False
        out["seconds"] = round(time.monotonic() - started, 1)
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"],
                                               listen=False) as event:
            event.fire_event(out, "hastack/drbd/autopromote")
    except Exception:  # the event is informative; the decision is made and logged
        log.exception("firing hastack/drbd/autopromote")
    log.warning("drbd_autopromote %s: %s", resource, "; ".join(steps))
    return out if out["result"] else _fail(out)


# ------------------------------------------------------------------------------------------------
# Auto-healing: the reactor hands every ha_health beacon event to heal(); the rules (what to do,
# when to stop trying) are hastack.heal's. Every decision is an audit event hastack/heal/... and
# a line in the heal log (heal_log).
# ------------------------------------------------------------------------------------------------

try:
    from hastack import heal as _heal
except ImportError:
    _heal = None

HEAL_LOCK_WAIT = 300


def _heal_claim(resource, wait=0):
    """True while this call holds ``resource``'s heal, False when another heal of it is in
    flight: that one deals with the trouble (or the beacon reports it again), so a second
    event does not queue behind it in the reactor's threads. An operator's action on the
    resource waits (``wait`` seconds) and holds it, so no heal starts meanwhile."""
    return _flock("heal-%s.claim" % re.sub(r"[^A-Za-z0-9_.-]", "_", resource), wait=wait)


def _heal_state_lock():
    """The damping state's read-modify-write, never held across an action: heal_reset does
    not wait for a recovery in progress."""
    return _flock("heal-state.lock")


@contextlib.contextmanager
def _heal_lock(wait=HEAL_LOCK_WAIT):
    """One heal action at a time across the reactor's threads and processes (two repairs
    never interleave on the same nodes)."""
    with _flock("heal.lock", wait) as held:
        if not held:
            raise TimeoutError("another heal held the lock for %d s" % wait)
        yield


def _heal_state(update=None):
    path = os.path.join(_state_dir(), "heal-state.json")
    if update is None:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}
    with open(path + ".tmp", "w") as f:
        json.dump(update, f)
    os.replace(path + ".tmp", path)
    return update


def _fire(data, tag):
    """Put an event on the master's bus (the audit copy of a heal log line)."""
    try:
        with salt.utils.event.get_master_event(__opts__, __opts__["sock_dir"],
                                               listen=False) as event:
            event.fire_event(data, tag)
    except Exception:  # the log line is written; the event is a copy
        log.exception("firing %s", tag)


def _audit(record):
    """The heal log line and the audit event ``hastack/heal/<kind>/<result>``."""
    record["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with open(os.path.join(_state_dir(), "heal.log"), "a") as f:
        f.write(json.dumps(record, sort_keys=True) + "\n")
    tag = "hastack/heal/%s/%s" % (record["kind"], record["result"])
    if record["result"] == "gave-up":
        tag = "hastack/heal/alert"
    _fire(record, tag)
    log.warning("heal %s %s: %s", record["resource"], record["result"],
                record.get("reason") or record.get("action"))
    return record


def _no_return(answer):
    """Is ``answer`` Salt's stand-in for a minion that did not answer?"""
    return isinstance(answer, str) and answer.startswith("Minion did not return")


def _heal_view(client, topo, event):
    """What plan() needs, asked of the nodes concerned now (only those: a node that is down
    costs the ping's timeout)."""
    kind = event["kind"]
    services = topo.get("services", {})
    nodes = {"service": lambda: [event["node"]],
             "backend": lambda: [event["server"]] + (services["galera"]["nodes"]
                                                     if event.get("service") == "galera"
                                                     else []),
             "galera": lambda: services["galera"]["nodes"],
             "rabbitmq": lambda: services["rabbitmq"]["nodes"],
             "vip": lambda: loadbalancer.lb_nodes(topo),
             "neutron": lambda: [event["host"]] + (neutron.agent_nodes(topo)
                                                   if neutron.passive(topo) else [])}[kind]()
    nodes = list(dict.fromkeys(nodes))
    # The ping asks for the rolled-out grain: any answer means up, True means healable.
    pings = client.cmd(nodes, "grains.get", [_heal.ROLLED_OUT_GRAIN], tgt_type="list",
                       timeout=2, gather_job_timeout=2)
    # A minion the master knows is gone still has an entry: Salt's "Minion did not return.
    # [Not connected]" text (a node without the grain answers "").
    answering = [n for n in nodes if n in pings and not _no_return(pings[n])]
    view = {"answering": answering,
            "rolled_out": [n for n in answering if pings.get(n) is True]}
    # A unit's own state is read on the node when acting (ha_heal.ensure_running): one
    # round trip, and no restart of a unit that came back meanwhile.
    if kind == "backend" and event.get("service") == "galera":
        kind = "galera"
    if kind == "galera":
        members = topo["services"]["galera"]["nodes"]
        ask = [n for n in members if n in answering]
        got = client.cmd(ask, "ha_galera.status", tgt_type="list", timeout=10) if ask else {}
        view["galera"] = {n: got.get(n) if isinstance(got.get(n), dict) else None
                          for n in members}
    if kind == "vip":
        lbs = loadbalancer.lb_nodes(topo)
        got = client.cmd([n for n in lbs if n in answering], "ha_vip.held", tgt_type="list",
                         timeout=5)
        held = {n: list(a) for n, a in got.items() if isinstance(a, dict)}
        view["vips"] = vip.holders_report(topo, held, [n for n in lbs if n not in held])
    if kind == "rabbitmq":
        members = topo["services"]["rabbitmq"]["nodes"]
        got = client.cmd([n for n in members if n in answering], "ha_rabbitmq.status",
                         tgt_type="list", timeout=30)
        view["rabbitmq"] = {n: a for n, a in got.items() if isinstance(a, dict)}
    return view


def _heal_act(client, topo, action):
    """Carry the action out; returns (ok, what happened)."""
    kind = action["action"]
    if kind == "restart":
        nodes = action.get("nodes") or [action["node"]]
        fun = "ha_heal.ensure_running"
        if action.get("nodes"):        # a RabbitMQ minority: restart even if "active"
            fun = "service.restart"
        got = client.cmd(nodes, fun, [action["unit"]], tgt_type="list", timeout=300)
        answers = {n: got.get(n) for n in nodes}
        if fun == "service.restart":
            bad = [n for n, a in answers.items() if a is not True]
            return (not bad, "restarted %s on %s%s" % (action["unit"], ", ".join(nodes),
                                                       "; failed on " + ", ".join(bad)
                                                       if bad else ""))
        bad = [n for n, a in answers.items() if not (isinstance(a, dict) and a["active"])]
        if all(isinstance(a, dict) and not a["restarted"] for a in answers.values()):
            return (None, "; ".join(a["comment"] for a in answers.values()))
        return (not bad, "; ".join("%s: %s" % (n, a["comment"] if isinstance(a, dict) else a)
                                   for n, a in answers.items()))
    if kind == "restart_keepalived":
        if not action["nodes"]:
            return (True, "nothing to restart")
        got = client.cmd(action["nodes"], "service.restart", ["keepalived"], tgt_type="list",
                         timeout=60)
        bad = [n for n in action["nodes"] if got.get(n) is not True]
        return (not bad, "restarted keepalived on %s" % ", ".join(action["nodes"]))
    if kind == "galera_join":
        # Start a stopped MariaDB, one node at a time; never restart a running one (it is
        # joining, donating, or will merge into the Primary component by itself) unless the
        # plan says it is stuck Disconnected (ha_galera.join restarts it).
        out, bad = [], []
        for node in action["nodes"]:
            if node in action.get("restart", []):
                ret = client.cmd([node], "ha_galera.join", tgt_type="list",
                                 timeout=900).get(node)
                ok = isinstance(ret, dict) and ret["result"]
                what = "Disconnected; restarted" if ok else "Disconnected; restart failed"
                (out if ok else bad).append("%s: %s: %s" % (
                    node, what, ret.get("comment") if isinstance(ret, dict) else ret))
                continue
            ret = client.cmd([node], "ha_heal.ensure_running",
                             ["mariadb", "restart_starting=False"], tgt_type="list",
                             timeout=900).get(node)
            ok = isinstance(ret, dict) and ret["active"]
            (out if ok else bad).append("%s: %s" % (node, ret["comment"] if isinstance(
                ret, dict) else ret))
        return (not bad, "; ".join(out + bad))
    if kind == "restart_neutron_agents":
        ret = client.cmd([action["node"]], "ha_neutron.restart_dead", [action["units"]],
                         tgt_type="list", timeout=300).get(action["node"])
        if not isinstance(ret, dict):
            return (False, "ha_neutron.restart_dead on %s: %s" % (action["node"], ret))
        what = "%s: restarted %s%s%s" % (
            action["node"], ", ".join(ret["restarted"]) or "nothing",
            "; left alone: " + ", ".join(ret["skipped"]) if ret["skipped"] else "",
            "; failed: " + ", ".join(ret["failed"]) if ret["failed"] else "")
        if not ret["restarted"] and not ret["failed"]:
            return (None, what)            # just started: not an attempt
        return (not ret["failed"], what)
    if kind == "neutron_reschedule":
        ret = client.cmd([action["via"]], "ha_neutron.reschedule", [action["host"]],
                         tgt_type="list", timeout=120).get(action["via"])
        if not isinstance(ret, dict):
            return (False, "ha_neutron.reschedule on %s: %s" % (action["via"], ret))
        if ret["result"] and not ret["changes"]:      # moved already: not an attempt
            return (None, ret["comment"])
        return (bool(ret["result"]), ret["comment"])
    if kind == "neutron_failover":
        return _neutron_failover(client, action)
    if kind == "galera_recover":
        ret = galera_recover()
        # Every step with its time: the heal log is where an operator reads what a recovery
        # nobody watched did, and where its seconds went.
        return (bool(ret.get("result")), "; ".join(ret.get("steps", [])))
    raise ValueError("unknown action %r" % kind)


def _neutron_failover(client, action):
    """``active_passive``: the agent group leaves ``from`` (stopped there when ``stop``: it
    answers), starts on ``to`` when ``start`` (waited for until alive), and ``from``'s
    routers, networks and agent records are handed over through the API (asked of ``via``)."""
    src, dst, via = action["from"], action["to"], action["via"]
    out, acted = [], action["start"]
    if action["stop"]:
        ret = client.cmd([src], "ha_neutron.stop_agents", tgt_type="list",
                         timeout=60).get(src)
        if not isinstance(ret, dict) or not ret["result"]:
            return (False, "%s: %s" % (src, ret["comment"] if isinstance(ret, dict) else ret))
        out.append("%s: %s" % (src, ret["comment"]))
        acted = acted or bool(ret["stopped"])
    if action["start"]:
        ret = client.cmd([dst], "ha_neutron.restart_agents", kwarg={"force": True},
                         tgt_type="list", timeout=240).get(dst)
        if not isinstance(ret, dict) or not ret["result"]:
            return (False, "; ".join(out + ["%s: %s" % (dst, ret["comment"] if isinstance(
                ret, dict) else ret)]))
        out.append("%s: agents started; %s" % (dst, ret["comment"]))
    ret = client.cmd([via], "ha_neutron.reschedule", [src], kwarg={"forget": True},
                     tgt_type="list", timeout=120).get(via)
    if not isinstance(ret, dict):
        return (False, "; ".join(out + ["ha_neutron.reschedule on %s: %s" % (via, ret)]))
    if ret["result"] and not acted and not ret["changes"]:
        return (None, "; ".join(out + [ret["comment"]]))    # handed over already (a deploy)
    return (bool(ret["result"]), "; ".join(out + [ret["comment"]]))


def _heal_paused():
    """Why healing is paused (maintenance), or None."""
    try:
        with open(os.path.join(_state_dir(), "paused")) as f:
            until, why = json.load(f)
    except (OSError, ValueError):
        return None
    if until is not None and time.time() >= until:
        return None
    return "healing paused%s: %s (salt-run hastack.heal_resume)" % (
        "" if until is None else " until " + time.strftime("%H:%M:%SZ", time.gmtime(until)),
        why)


def heal_pause(minutes=None, reason="maintenance"):
    """
    Pause auto-healing (planned maintenance: nothing the operator breaks on purpose is
    "healed"), for ``minutes`` or until :func:`heal_resume`. Events are still logged, as
    ``paused``.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.heal_pause minutes=30 reason="kernel upgrade on ctl2"
    """
    until = None if minutes is None else time.time() + 60 * float(minutes)
    with open(os.path.join(_state_dir(), "paused"), "w") as f:
        json.dump([until, reason], f)
    return {"result": True, "paused": _heal_paused()}


def heal_resume():
    """
    Resume auto-healing after :func:`heal_pause`.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.heal_resume
    """
    try:
        os.unlink(os.path.join(_state_dir(), "paused"))
    except FileNotFoundError:
        pass
    return {"result": True, "paused": None}


def heal(data=None, minion=None, **kwargs):
    """
    Heal what an ``ha_health`` beacon event reports (the reactor calls this; see
    hastack/heal.py for the rules). Asks the nodes for a fresh view, plans, checks the
    damping, acts, and records the decision in the heal log and as an audit event.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.heal data='{"kind": "service", "node": "ctl2", "unit": "keystone"}'
    """
    if isinstance(data, str):
        data = json.loads(data)
    event = dict(data or {})
    event.setdefault("node", event.get("id"))
    resource = _heal.resource_of(event)
    record = {"resource": resource, "kind": event["kind"], "seen": event}
    paused = _heal_paused()
    if paused:         # before compiling the pillar: a paused master stays cheap
        return _audit(dict(record, result="paused", reason=paused))
    if _yields_to_galera(event):   # before compiling the pillar, as a pause
        return _audit(dict(record, result="deferred", reason=GALERA_FIRST))
    with _heal_claim(resource) as mine:
        if not mine:
            return _audit(dict(record, result="busy",
                               reason="a heal of %s is in progress" % resource))
        with _galera_in_flight(resource):
            return _heal_claimed(record, resource, event, minion)


# Present while a heal of Galera runs (its time inside); one older than a recovery's
# longest run is what a killed runner left, and ignored.
GALERA_IN_FLIGHT = "galera-heal.inflight"
GALERA_IN_FLIGHT_MAX = 900
GALERA_FIRST = "a heal of galera is in progress; this backend is DOWN while the database is"


@contextlib.contextmanager
def _galera_in_flight(resource):
    """Marks a heal of Galera as in flight while it runs; any other resource: nothing."""
    if resource != "galera":
        yield
        return
    marker = os.path.join(_state_dir(), GALERA_IN_FLIGHT)
    with open(marker, "w") as f:
        f.write(str(time.time()))
    try:
        yield
    finally:
        os.unlink(marker)


def _yields_to_galera(event):
    """Does this event's heal step aside now: it waits for Galera, and Galera's is running?"""
    if not _heal.waits_for_galera(event):
        return False
    try:
        with open(os.path.join(_state_dir(), GALERA_IN_FLIGHT)) as f:
            since = float(f.read() or 0)
    except (OSError, ValueError):
        return False
    return time.time() - since < GALERA_IN_FLIGHT_MAX


def _heal_claimed(record, resource, event, minion):
    topo = _pillar(minion).get("hastack") or {}
    started = time.monotonic()
    try:
        with salt.client.get_local_client(__opts__["conf_file"]) as client:
            while True:
                with _heal_lock():
                    if _yields_to_galera(event):
                        # Queued for the lock before Galera's heal began: still its turn.
                        return _audit(dict(record, result="deferred", reason=GALERA_FIRST))
                    action = _heal.plan(topo, event, _heal_view(client, topo, event))
                    if not action.get("wait_for") or \
                            time.monotonic() - started >= _heal.SILENT_WAIT:
                        return _heal_decided(client, topo, record, resource, action, started)
                # Waiting on a silent member is a look, not an action: other heals may act
                # meanwhile, and the next look is fresh.
                time.sleep(_heal.SILENT_POLL)
    except TimeoutError as exc:
        return _audit(dict(record, result="busy", reason=str(exc)))


def _heal_decided(client, topo, record, resource, action, started):
    """Damp, act and audit ``action``, the plan of a fresh look (under the heal lock)."""
    record["action"] = action
    if action["action"] == "none":
        return _audit(dict(record, result="nothing-to-do", reason=action["reason"]))
    if action["action"] == "alert":
        return _audit(dict(record, result="gave-up", reason=action["reason"]))
    with _heal_state_lock():
        state = _heal_state()
        now = time.time()
        entry = state.setdefault(resource, {"attempts": [], "alerted": 0})
        entry["attempts"] = _heal.prune(entry["attempts"], now, _heal.policy(topo))
        verdict, info = _heal.damp(entry["attempts"], now, _heal.policy(topo))
        if verdict == "wait":
            return _audit(dict(record, result="deferred",
                               reason="backoff: %s s before the next attempt" % info))
        if verdict == "give_up":
            if now - entry.get("alerted", 0) < _heal.policy(topo)["window"]:
                return _audit(dict(record, result="damped", reason=info))
            entry["alerted"] = now
            _heal_state(state)
            return _audit(dict(record, result="gave-up", reason=info + "; a human is "
                               "needed: see `salt-run hastack.status`"))
        entry["attempts"].append(now)
        _heal_state(state)
    ok, what = _heal_act(client, topo, action)
    if ok is None:             # fixed meanwhile: not an attempt after all
        with _heal_state_lock():
            state = _heal_state()
            attempts = state.get(resource, {}).get("attempts", [])
            if now in attempts:
                attempts.remove(now)
                _heal_state(state)
        return _audit(dict(record, result="nothing-to-do", reason=what))
    return _audit(dict(record, result="healed" if ok else "failed", done=what,
                       seconds=round(time.monotonic() - started, 1),
                       attempt=len(entry["attempts"])))


def heal_log(limit=50, resource=None):
    """
    The latest heal decisions, newest last: what was seen, what was done, the result.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.heal_log
        salt-run hastack.heal_log limit=10 resource=galera
    """
    try:
        with open(os.path.join(_state_dir(), "heal.log")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        lines = []
    if resource:
        lines = [r for r in lines if r["resource"] == resource]
    return lines[-int(limit):]


def heal_reset(resource=None):
    """
    Forget the heal attempts counted against ``resource`` (default: every resource), once
    a human has fixed what the healing gave up on; healing resumes at once.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.heal_reset resource=service:ctl3:keystone
        salt-run hastack.heal_reset
    """
    with _heal_state_lock():
        state = _heal_state()
        cleared = sorted(state) if resource is None else [r for r in state if r == resource]
        _heal_state({} if resource is None else {k: v for k, v in state.items()
                                                  if k != resource})
    return {"result": True, "cleared": cleared}
