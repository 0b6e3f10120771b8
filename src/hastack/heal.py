"""Auto-healing: what the nodes report, what the master does about it, and when it stops.

The node agent is the Salt minion and the cluster manager is the master's event reactor:

1. The ``ha_health`` beacon runs every second on every node and reports *problems*, not
   states: a managed unit that is down and that systemd is not bringing back (``failed``,
   or ``inactive`` while it should run), this node's
   Galera member out of a Primary component or not Synced past a grace period, RabbitMQ
   partitions or alarms, a VIP this node holds or stopped holding, a haproxy backend DOWN.
   It fires when the set of problems changes and again every ``refire`` seconds while one
   persists (so a heal that did not work is tried again, subject to damping).
2. The reactor hands each event to ``salt-run hastack.heal``, which classifies it into a
   *resource* (``service:ctl2:keystone``, ``galera``, ``vip:api``...) and an *action*
   (:func:`plan`), then asks :func:`damp` whether it may act now.
3. Damping, per resource: at most ``max_attempts`` heal attempts in ``window`` seconds, the
   n-th waiting ``backoff[n]`` seconds after the previous one. Past that, no more attempts:
   one ``hastack/heal/alert`` event for the window, for a human. A problem never makes the
   master flap a service.
4. Every decision, acted or not, is an audit event ``hastack/heal/<kind>/<result>`` and a
   line in the heal log (``salt-run hastack.heal_log``).

Safety rules, in the order they apply:

- What Pacemaker owns (``hastack:cluster:manager: pacemaker``) is never touched.
- MariaDB is never just restarted: a member that left is *joined* only while another member
  is in a Primary component; when no member is, the full-outage recovery runs
  (``hastack.galera_recover``: it waits for every member's report and refuses when the
  positions are ambiguous) — never a bootstrap by restart.
- A VIP held twice: keepalived is restarted on every holder but the one the pillar prefers
  (its unit releases the VIP when it stops); a VIP held nowhere: keepalived is restarted on
  the load balancers, preferred first.
- A RabbitMQ partition: the nodes outside the largest side (ties: the side with the seed) are
  restarted, so they rejoin; an alarm (memory, disk) is reported, never "healed" by restart.
- A haproxy backend DOWN: the service's unit is restarted on that backend node; an API
  backend's heal waits while a heal of Galera is in flight (:func:`waits_for_galera`).
- Only on nodes orch.deploy has rolled out (:data:`ROLLED_OUT_GRAIN`): a node being added is
  left to the rollout, so healing never starts a joiner's MariaDB or a unit not yet installed.

Pure: events and history in, decisions out. ``_beacons/ha_health.py`` and the runner
``hastack.heal`` are the Salt sides.
"""

from hastack import cluster, galera, loadbalancer, neutron, topology

POLICY = {
    "max_attempts": 3,        # heal attempts per resource ...
    "window": 300,            # ... in this many seconds
    "backoff": [0, 5, 20],    # seconds to wait after the previous attempt, by attempt number
}
BEACON_DEFAULTS = {
    "interval": 1,
    "grace": 10,              # Galera not Synced (joining, donating) for this long
    "refire": 15,             # a persisting problem is reported again this often
    "rabbitmq_every": 10,     # rabbitmqctl is slow: check RabbitMQ this often
    "neutron_every": 5,       # Neutron's agents, asked of the API by its VIP's holder
}

# A heal that finds no Primary component while a member's minion does not answer yet looks
# again every SILENT_POLL seconds for up to SILENT_WAIT before it leaves that member to the
# next event: after a power loss the minions come up seconds apart, and the next event can be
# a refire (15 s) away (on 2026-11-24 the recovery started 11 s after the look that waited).
SILENT_WAIT = 30
SILENT_POLL = 2

# A node is healed once orch.deploy has rolled it out: its last step, the heal state, sets
# this grain (a membership drain removes it first). Before that, a node being added is the
# rollout's: a backend DOWN there means "not deployed yet", not "crashed".
ROLLED_OUT_GRAIN = "hastack_healing"
NOT_ROLLED_OUT = ("%s: not rolled out yet (no hastack_healing grain: orch.deploy has not "
                  "finished there); the rollout, not healing, starts it")

# Units hastack starts, by service; Galera's mariadb is handled as Galera, not a unit.
SERVICE_UNITS = {
    "galera": "hastack-galera-health",
    "rabbitmq": "rabbitmq-server",
    "keystone": "keystone",
    "neutron": "neutron-api",     # its haproxy backend; units_for has all of Neutron's
}
LB_UNITS = ("haproxy", "keepalived")


def pacemaker_units(topo):
    """Units Pacemaker manages (``hastack:cluster`` with ``manager: pacemaker``): hastack
    keeps its hands off them."""
    cfg = topo.get("cluster")
    if not isinstance(cfg, dict) or cfg.get("manager") != "pacemaker":
        return set()
    out = set()
    # settings(): the pillar's resources and the DRBD stacks Pacemaker runs (hastack/drbd.py)
    for res in cluster.settings(topo)["resources"].values():
        if not isinstance(res, dict):
            continue
        if isinstance(res.get("systemd"), str):
            out.add(res["systemd"])
        agent = res.get("agent")
        if isinstance(agent, str) and agent.startswith(("systemd:", "service:", "lsb:")):
            out.add(agent.split(":", 1)[1])
    return {u if "." in u else u + ".service" for u in out} | out


def units_for(topo, node):
    """The systemd units hastack keeps running on ``node``, in a stable order."""
    units = []
    if node in loadbalancer.lb_nodes(topo):
        units += LB_UNITS
    for name in sorted(topo.get("services", {})):
        svc = topo["services"][name]
        if name == "neutron":          # its controllers' units, and the network nodes' agents
            units += neutron.units(topo, node)
            continue
        if node not in svc.get("nodes", []):
            continue
        unit = svc.get("unit") or SERVICE_UNITS.get(name)
        if unit:
            units.append(unit)
    skip = pacemaker_units(topo)
    return [u for u in units if u not in skip]


def unit_problem(active):
    """Is a unit that should run in trouble that systemd will not fix? ``failed`` and
    ``inactive`` are: nobody starts it again. ``activating`` (a slow start, an auto-restart)
    and ``deactivating`` are systemd's own business: its start and stop timeouts and its
    restart limit end them in ``failed`` if they go wrong, and a restart from here would
    only interrupt a start that was going to succeed (RabbitMQ takes 15 s)."""
    return active if active in ("failed", "inactive") else None


def galera_problem(status, unit_active, seconds_unhealthy, grace):
    """This member's trouble: ``down`` (MariaDB not running), ``non-primary`` or
    ``not-synced`` past ``grace`` (joining and donating take a while), else None."""
    if status is None:
        return "down" if unit_active in ("failed", "inactive") or seconds_unhealthy >= grace \
            else None
    if status.get("primary") and status.get("synced"):
        return None
    if seconds_unhealthy < grace:
        return None
    return "not-synced" if status.get("primary") else "non-primary"


def resource_of(event):
    """The resource an event is about; damping is counted per resource."""
    kind = event["kind"]
    if kind == "service":
        return "service:%s:%s" % (event["node"], event["unit"])
    if kind == "galera":
        return "galera"
    if kind == "rabbitmq":
        return "rabbitmq"
    if kind == "vip":
        return "vip:%s" % event["vip"]
    if kind == "neutron":
        return "neutron:%s" % event["host"]
    if kind == "backend":
        if event["service"] == "galera":       # healed as Galera, damped as Galera
            return "galera"
        return "service:%s:%s" % (event["server"], event["service"])
    raise ValueError("unknown event kind %r" % kind)


def waits_for_galera(event):
    """Does this event's heal wait while a heal of Galera is in flight? A haproxy backend
    DOWN of an API (every API hastack balances uses the database) is how a Galera outage
    looks from haproxy: restarting a unit that runs cannot fix it. After the power loss of
    every controller, fifteen such heals (each found its unit active) held the heal lock for
    60 s ahead of the Galera recovery (CI-like run of 2026-12-07). Not acted on then; the
    beacon reports it again if it outlasts the recovery."""
    return event.get("kind") == "backend" and event.get("service") != "galera"


def plan(topo, event, view):
    """The action for ``event`` given the master's fresh ``view`` of the cluster.

    ``view`` holds what the runner asked the nodes just now: ``galera`` ({node: status or
    None}), ``vips`` (``hastack.vip.holders_report``), ``rabbitmq`` ({node: status}),
    ``units`` ({node: {unit: ActiveState}}). Returns ``{"action": ..., ...}`` with action
    ``none`` (with a ``reason``) when there is nothing to do or it is not hastack's to do.
    """
    kind = event["kind"]
    if kind == "service" or kind == "backend":
        node = event["node"] if kind == "service" else event["server"]
        if kind == "backend":
            svc = topo.get("services", {}).get(event["service"], {})
            if event["service"] == "galera":
                return plan(topo, {"kind": "galera", "node": node}, view)
            unit = svc.get("unit") or SERVICE_UNITS.get(event["service"])
        else:
            unit = event["unit"]
        if unit is None:
            return {"action": "none", "reason": "no unit known for %s" % event}
        if unit in pacemaker_units(topo):
            return {"action": "none", "reason": "%s is Pacemaker's" % unit}
        if unit not in units_for(topo, node):
            return {"action": "none", "reason": "%s is not managed on %s" % (unit, node)}
        if node not in view.get("answering", [node]):
            return {"action": "none", "reason": "%s does not answer (down or cut off): "
                                                "nothing to restart there" % node}
        if node not in view.get("rolled_out", [node]):
            return {"action": "none", "reason": NOT_ROLLED_OUT % node}
        return {"action": "restart", "node": node, "unit": unit}
    if kind == "galera":
        members = list(topo["services"]["galera"]["nodes"])
        statuses = view.get("galera", {})
        primary = [n for n in members if (statuses.get(n) or {}).get("primary")]
        out = [n for n in members if not ((statuses.get(n) or {}).get("primary")
                                          and (statuses.get(n) or {}).get("synced"))]
        if not out:
            return {"action": "none", "reason": "every member is Synced in a Primary component"}
        answering = view.get("answering", members)
        # Not rolled out: answered without the grain. One that did not answer is silent, not
        # pending (after a power loss its minion may not be up yet).
        pending = [n for n in members if n in answering
                   and n not in view.get("rolled_out", members)]
        if primary:
            joiners = [n for n in out if n in answering and n not in primary
                       and n not in pending]
            if not joiners and pending:
                return {"action": "none", "reason": NOT_ROLLED_OUT % ", ".join(pending)}
            if not joiners:
                return {"action": "none", "reason": "members out of the Primary component do "
                                                    "not answer (%s)" % ", ".join(out)}
            # A joiner that runs Disconnected (evicted while it joined) never comes back by
            # itself: that one is restarted; the others are only started if stopped.
            return {"action": "galera_join", "nodes": joiners,
                    "restart": [n for n in joiners if galera.joiner_stuck(statuses.get(n), 0)]}
        if pending:
            return {"action": "none", "reason": NOT_ROLLED_OUT % ", ".join(pending)
                    + "; orch.deploy brings Galera up"}
        silent = [n for n in members if n not in answering]
        if silent:
            # As the galera resource agent does: the election needs every member's position.
            return {"action": "none", "reason": "no Primary component; waiting on %s to "
                                                "report" % ", ".join(silent),
                    "wait_for": silent}
        return {"action": "galera_recover",
                "reason": "no member is in a Primary component (%s)" % ", ".join(members)}
    if kind == "vip":
        report = view.get("vips", {}).get(event["vip"])
        if report is None or report["status"] == "ok":
            return {"action": "none", "reason": "VIP %s has one holder" % event["vip"]}
        order = [n for n in topo["vips"][event["vip"]]["nodes"]
                 if n in view.get("answering", topo["vips"][event["vip"]]["nodes"])]
        if report["status"] == "split-brain":
            holders = [n for n in order if n in report["holders"]]
            return {"action": "restart_keepalived", "nodes": holders[1:],
                    "reason": "VIP %s held by %s; %s keeps it"
                              % (event["vip"], ", ".join(report["holders"]), holders[0])}
        if report["status"] == "missing":
            return {"action": "restart_keepalived", "nodes": order[:1],
                    "reason": "VIP %s held by nobody" % event["vip"]}
        return {"action": "none", "reason": "VIP %s: %s" % (event["vip"], report["status"])}
    if kind == "neutron":
        return _neutron_plan(topo, event, view)
    if kind == "rabbitmq":
        statuses = {n: s for n, s in view.get("rabbitmq", {}).items() if isinstance(s, dict)}
        alarms = sorted({a for s in statuses.values() for a in s.get("alarms", [])})
        minority = [n for n in rabbitmq_minority(topo, statuses)
                    if n in view.get("rolled_out", [n])]
        if minority:
            return {"action": "restart", "nodes": minority, "unit": "rabbitmq-server",
                    "reason": "partitioned: %s outside the majority" % ", ".join(minority)}
        if alarms:
            return {"action": "alert", "reason": "RabbitMQ alarms: %s (free memory or disk; "
                                                 "a restart does not help)" % ", ".join(alarms)}
        return {"action": "none", "reason": "no partition"}
    raise ValueError("unknown event kind %r" % kind)


def _neutron_plan(topo, event, view):
    """Dead Neutron agents on ``event["host"]``: restarted there while the node answers (a
    hung agent, its unit still active); the node lost (no answer), the routers and networks
    its agents hosted moved to live agents through the API, asked of ``event["node"]``."""
    host = event["host"]
    if host not in neutron.agent_nodes(topo):
        return {"action": "none", "reason": "%s is not a Neutron agent node" % host}
    kinds = [k for k in event.get("dead") or [] if k in neutron.UNIT_OF_KIND]
    if neutron.passive(topo):
        return _neutron_passive_plan(topo, event, view, kinds)
    if event.get("live_elsewhere") is False:
        # Every agent of every host silent at once: the RPC server or the bus is out (a
        # controllers' outage), not the agents; they report again when it is back.
        return {"action": "none", "reason": "no agent of any host reports: Neutron's RPC "
                                            "server or RabbitMQ, not %s's agents" % host}
    if host in view.get("answering", [host]):
        if host not in view.get("rolled_out", [host]):
            return {"action": "none", "reason": NOT_ROLLED_OUT % host}
        skip = pacemaker_units(topo)
        units = [neutron.UNIT_OF_KIND[k] for k in kinds if neutron.UNIT_OF_KIND[k] not in skip]
        if not units:
            return {"action": "none", "reason": "no dead agent of hastack's on %s" % host}
        return {"action": "restart_neutron_agents", "node": host, "units": units,
                "reason": "dead on %s: %s" % (host, ", ".join(kinds))}
    return {"action": "neutron_reschedule", "host": host, "via": event["node"],
            "reason": "%s does not answer and its agents are dead (%s)"
                      % (host, ", ".join(kinds) or "all")}


def _neutron_passive_plan(topo, event, view, kinds):
    """``active_passive``: one node keeps the agent group (``event["keeper"]``, see
    :func:`hastack.neutron.group_keeper`). A group on another node (a holder that came back)
    is stopped and handed to the keeper; the keeper's dead agents are restarted while it
    answers; with no live group, a silent node's group is started on the first other agent
    node that answers and its routers and networks follow (``neutron_failover``)."""
    host, keeper = event["host"], event.get("keeper")
    if pacemaker_agents(topo):
        # Pacemaker moves the group; what it leaves behind in Neutron (the dead agents'
        # routers, networks and records) is hastack's to hand over, without a unit touched.
        if keeper and keeper != host and not event.get("live"):
            return {"action": "neutron_failover", "from": host, "to": keeper, "start": False,
                    "stop": False, "via": event["node"],
                    "reason": "Pacemaker moved the agent group to %s; %s's agents are dead"
                              % (keeper, host)}
        return {"action": "none", "reason": "Pacemaker keeps the agent group"}
    answering = view.get("answering", [host])
    rolled_out = [n for n in view.get("rolled_out", answering) if n in answering]
    if keeper and keeper != host:
        if host not in answering and event.get("live"):
            return {"action": "alert", "reason": "%s runs a second agent group beside %s's "
                                                 "and does not answer: hastack cannot stop it"
                                                 % (host, keeper)}
        if host in answering and host not in rolled_out:
            return {"action": "none", "reason": NOT_ROLLED_OUT % host}
        return {"action": "neutron_failover", "from": host, "to": keeper, "start": False,
                "stop": host in answering, "via": event["node"],
                "reason": "the agent group runs on %s; %s yields it" % (keeper, host)}
    if host in answering:
        if host not in rolled_out:
            return {"action": "none", "reason": NOT_ROLLED_OUT % host}
        if not kinds:
            return {"action": "none", "reason": "no dead agent on %s" % host}
        return {"action": "restart_neutron_agents", "node": host,
                "units": [neutron.UNIT_OF_KIND[k] for k in kinds],
                "reason": "dead on %s: %s" % (host, ", ".join(kinds))}
    if keeper == host:
        return {"action": "none", "reason": "%s does not answer but some of its agents "
                                            "report" % host}
    spare = [n for n in neutron.agent_nodes(topo) if n != host and n in rolled_out]
    if not spare:
        return {"action": "none", "reason": "%s does not answer and no other agent node "
                                            "does: the agent group has nowhere to go" % host}
    return {"action": "neutron_failover", "from": host, "to": spare[0], "start": True,
            "stop": False, "via": event["node"],
            "reason": "%s does not answer and its agents are dead (%s); the group moves to %s"
                      % (host, ", ".join(kinds) or "all", spare[0])}


def rabbitmq_minority(topo, statuses):
    """Nodes to restart after a partition: those outside the largest side. A side is what
    a node sees running; ties go to the side with the seed (first member)."""
    partitioned = {n for n, s in statuses.items() if s.get("partitions")}
    if not partitioned:
        return []
    members = list(topo["services"]["rabbitmq"]["nodes"])
    sides = {}
    for node, status in statuses.items():
        side = frozenset(status.get("running", [node]))
        sides.setdefault(side, set()).add(node)
    best = max(sides, key=lambda side: (len(side), members[0] in side))
    return [n for n in members if n in statuses and n not in best]


def damp(history, now, policy=POLICY):
    """May a heal be attempted now? ``history`` is the resource's recent attempts
    (timestamps, oldest first). Returns ``("go", None)``, ``("wait", seconds)`` (the backoff
    is not over) or ``("give_up", reason)`` (the window's attempts are spent)."""
    recent = [t for t in history if now - t < policy["window"]]
    if len(recent) >= policy["max_attempts"]:
        return ("give_up", "%d heal attempts in %d s did not fix it"
                % (len(recent), policy["window"]))
    if recent:
        backoff = policy["backoff"][min(len(recent), len(policy["backoff"]) - 1)]
        left = backoff - (now - recent[-1])
        if left > 0:
            return ("wait", round(left, 1))
    return ("go", None)


def prune(history, now, policy=POLICY):
    return [t for t in history if now - t < policy["window"]]


def validate(topo, errors):
    """``hastack:healing`` (optional: the damping policy and the beacon's timing) and the
    services' ``unit`` names."""
    for name, svc in (topo.get("services") or {}).items():
        if isinstance(svc, dict) and "unit" in svc and not (
                isinstance(svc["unit"], str) and topology.UNIT_NAME.match(svc["unit"])):
            errors.append("hastack:services:%s:unit: %r is not a systemd unit name"
                          % (name, svc["unit"]))
    _check_pacemaker_agents(topo, errors)
    heal = topo.get("healing")
    if heal is None:
        return
    path = "hastack:healing"
    if not isinstance(heal, dict):
        errors.append("%s: must be a mapping" % path)
        return
    for key in ("max_attempts", "window", "interval", "grace", "refire", "rabbitmq_every",
                "neutron_every"):
        if key in heal:
            value = heal[key]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                errors.append("%s:%s: %r is not a positive number" % (path, key, value))
    if "backoff" in heal:
        b = heal["backoff"]
        if not isinstance(b, list) or not b or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0 for x in b):
            errors.append("%s:backoff: must be a non-empty list of seconds" % path)


def pacemaker_agents(topo):
    """The Neutron agent units Pacemaker runs (``manager: pacemaker``), in unit order."""
    owned = pacemaker_units(topo)
    return [u for u in neutron.AGENT_UNITS if u in owned]


def _check_pacemaker_agents(topo, errors):
    """Pacemaker may run the agent group (the seeds' layout): all three agents, on one node
    at a time (``active_passive``), every agent node a cluster member."""
    svc = (topo.get("services") or {}).get("neutron")
    cfg = topo.get("cluster")
    if not (isinstance(svc, dict) and isinstance(svc.get("agents", {}), dict) and
            isinstance(cfg, dict) and isinstance(cfg.get("nodes", []), list)):
        return             # no Neutron or no cluster, or a shape its own check reports
    owned = pacemaker_agents(topo)
    if not owned:
        return
    field = "hastack:cluster:resources"
    if len(owned) < len(neutron.AGENT_UNITS):
        errors.append("%s: Pacemaker runs %s but not %s; the agent group moves as one: give "
                      "it all of them or none" % (field, ", ".join(owned), ", ".join(
                          u for u in neutron.AGENT_UNITS if u not in owned)))
    if not neutron.passive(topo):
        errors.append("%s: Pacemaker runs the Neutron agents on one node at a time; set "
                      "%s:agents:mode: active_passive (active_active runs them on every "
                      "network node)" % (field, neutron.FIELD))
    missing = [n for n in neutron.agent_nodes(topo) if n not in cluster.members(topo)]
    if missing:
        errors.append("hastack:cluster:nodes: Pacemaker runs the Neutron agents but the agent "
                      "node(s) %s are not cluster members" % ", ".join(missing))


def policy(topo):
    heal = topo.get("healing") or {}
    return {k: heal.get(k, v) for k, v in POLICY.items()}


def beacon_settings(topo):
    heal = topo.get("healing") or {}
    return {k: heal.get(k, v) for k, v in BEACON_DEFAULTS.items()}
