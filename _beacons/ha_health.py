"""
hastack's health beacon: reports this node's problems to the master, whose reactor heals
them (``reactor/heal.sls`` -> ``salt-run hastack.heal``). What counts as a problem, and the
rules the master follows, are :mod:`hastack.heal`.

.. code-block:: yaml

    beacons:
      ha_health:
        - interval: 1

Events, tag ``salt/beacon/<node>/ha_health/<kind>``, payload (besides Salt's ``id``):

- ``service``: ``{"kind": "service", "node", "unit", "state"}``: a managed unit down that
  systemd is not bringing back;
- ``galera``: ``{"kind": "galera", "node", "state"}``: ``down``, ``non-primary`` or
  ``not-synced``;
- ``rabbitmq``: ``{"kind": "rabbitmq", "node", "partitions", "alarms"}``;
- ``vip``: ``{"kind": "vip", "node", "vip", "held"}``: this node took or lost a VIP;
- ``backend``: ``{"kind": "backend", "node", "service", "server", "state"}``: a haproxy
  backend DOWN, reported by the load balancer holding the service's VIP;
- ``neutron``: ``{"kind": "neutron", "node", "host", "dead", "live", "live_elsewhere"}``:
  agents on ``host`` the API reports dead (``dead``: their types; ``live``: one of its agents
  is alive; ``live_elsewhere``: some other host's agent is alive), reported by the holder of
  Neutron's VIP. In ``active_passive`` also ``keeper`` (the node keeping the agent group),
  and an event for a node that runs a group beside the keeper's.

An event fires when its problem appears and again every ``refire`` seconds while it lasts.
"""

import concurrent.futures
import contextvars
import subprocess
import time

try:
    from hastack import galera, galera_health, heal, loadbalancer, neutron

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_health"

# Per-process memory of what was seen: {problem key: (payload, first seen, last fired)},
# when Galera went unhealthy, when RabbitMQ was last asked, which VIPs were held.
_SEEN = {"problems": {}, "galera_bad_since": None, "rabbit_at": 0.0, "rabbit": None,
         "neutron_at": 0.0, "neutron": None, "vips": None}


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_health beacon: the hastack package is not importable by the "
                       "minion's Python")
    return __virtualname__


# Settings every beacon takes; hastack's timing comes from hastack:healing.
SALT_KEYS = {"interval", "enabled", "disable_during_state_run", "run_once"}


def validate(config):
    """Only Salt's own settings (``interval``...); timing comes from hastack:healing."""
    if not isinstance(config, list):
        return False, "ha_health: configuration must be a list"
    for item in config:
        if not isinstance(item, dict) or set(item) - SALT_KEYS:
            return False, "ha_health: only Salt's own %s are accepted, got %r" % (
                ", ".join(sorted(SALT_KEYS)), item)
    return True, "valid"


def _unit_states(units):
    """{unit: ActiveState} from one ``systemctl show``."""
    if not units:
        return {}
    res = subprocess.run(["systemctl", "show", "--property=ActiveState"] + list(units),
                         capture_output=True, text=True, timeout=10)
    states = [line.split("=", 1)[1] for line in res.stdout.splitlines()
              if line.startswith("ActiveState=")]
    return dict(zip(units, states + ["unknown"] * (len(units) - len(states))))


def _problems(topo, node, settings, now, held):
    found = {}
    units = heal.units_for(topo, node)
    galera_svc = topo.get("services", {}).get("galera") or {}
    member = node in galera_svc.get("nodes", [])
    states = _unit_states(units + (["mariadb"] if member else []))
    for unit in units:
        problem = heal.unit_problem(states[unit])
        if problem:
            found["service:" + unit] = {"kind": "service", "node": node, "unit": unit,
                                        "state": problem}
    if member:
        status = galera_health.local_status()
        if galera.healthy(status):
            _SEEN["galera_bad_since"] = None
        elif _SEEN["galera_bad_since"] is None:
            _SEEN["galera_bad_since"] = now
        bad_for = now - _SEEN["galera_bad_since"] if _SEEN["galera_bad_since"] else 0.0
        problem = heal.galera_problem(status, states["mariadb"], bad_for, settings["grace"])
        if problem:
            found["galera"] = {"kind": "galera", "node": node, "state": problem}
    rabbit = topo.get("services", {}).get("rabbitmq") or {}
    if node in rabbit.get("nodes", []):
        status = _asked("rabbit", settings["rabbitmq_every"], now, __salt__["ha_rabbitmq.status"])
        if isinstance(status, dict) and (status.get("partitions") or status.get("alarms")):
            found["rabbitmq"] = {"kind": "rabbitmq", "node": node,
                                 "partitions": status.get("partitions"),
                                 "alarms": status.get("alarms")}
    found.update(_neutron_problems(topo, node, settings, now, held))
    if held is not None:
        backends = None
        for name, svc in sorted(topo.get("services", {}).items()):
            if not held & set(loadbalancer.service_vips(svc)):
                continue
            if backends is None:      # one question to haproxy's socket per run
                backends = __salt__["ha_haproxy.backends"]()
            for server, state in (backends.get(name) or {}).items():
                if state.startswith("DOWN"):
                    found["backend:%s:%s" % (name, server)] = {
                        "kind": "backend", "node": node, "service": name, "server": server,
                        "state": state}
    return found


def _neutron_problems(topo, node, settings, now, held):
    """Dead Neutron agents, per host, as the API reports them: asked only by the node that
    holds the Neutron API's first VIP (one node asks, whichever it is)."""
    svc = topo.get("services", {}).get("neutron") or {}
    vips = loadbalancer.service_vips(svc)
    if not held or not vips or vips[0] not in held or node not in svc.get("nodes", []):
        return {}
    answer = _asked("neutron", settings["neutron_every"], now,
                    lambda: __salt__["ha_neutron.agents"](hosted=False))
    if not isinstance(answer, dict) or not answer.get("ok"):
        return {}
    agents = answer["agents"]
    hosts = neutron.dead_hosts(agents)
    extra = {}
    if neutron.passive(topo):
        # One node keeps the group; a live group anywhere else is a problem too.
        nodes = neutron.agent_nodes(topo)
        keeper = neutron.group_keeper(nodes, agents)
        extra = {"keeper": keeper}
        for host in nodes:
            if host != keeper and any(neutron.live(a) and neutron.on_host(a, host)
                                      for a in agents):
                hosts.setdefault(host, [])
    return {"neutron:" + host: dict({
        "kind": "neutron", "node": node, "host": host, "dead": kinds,
        "live": any(neutron.live(a) and neutron.on_host(a, host) for a in agents),
        "live_elsewhere": neutron.live_elsewhere(agents, host)}, **extra)
        for host, kinds in hosts.items()}


# The slow questions run on threads of their own, one of each in flight at most: rabbitmqctl
# (3-6 s on the loaded lab, up to a minute with a peer down) and Neutron's API (3-6 s to
# answer 500 while the database is down; its timeout is 10 s). A check takes the last answer
# and never waits for them, so they do not delay what the node sees itself: when both were
# due, a check took as long as both (on 2026-12-08 a Galera outage's first event came 9 s
# after the kill).
_SLOW = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="ha_health_ask")


def _asked(name, every, now, ask):
    """The last answer of ``ask()`` (None until the first one, or when it failed); asked
    again every ``every`` seconds, once the previous question has been answered."""
    pending = _RUNNING.get(name)
    if pending is not None and pending.done():
        _RUNNING[name] = None
        try:
            _SEEN[name] = pending.result()
        except Exception:  # a question that failed is no answer: no problem seen
            _SEEN[name] = None
    if _RUNNING.get(name) is None and now - _SEEN[name + "_at"] >= every:
        _SEEN[name + "_at"] = now
        _RUNNING[name] = _SLOW.submit(contextvars.copy_context().run, ask)
    return _SEEN[name]


def _vip_changes(node, held):
    """VIPs this node took or lost since the last run (none on the first run)."""
    if held is None:
        return []
    before, _SEEN["vips"] = _SEEN["vips"], held
    if before is None:
        return []
    return [{"tag": "vip", "kind": "vip", "node": node, "vip": name, "held": name in held}
            for name in sorted(held ^ before)]


# The checks run on a thread of their own: the beacon is called from the minion's event
# loop, and pyroute2 (ha_vip.held) drives an asyncio loop of its own, which cannot run
# inside a running one ("This event loop is already running"). Salt's loader dunders live in
# context variables: the thread runs in a copy of this context.
_WORKER = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                thread_name_prefix="ha_health")
# The minion's event loop also receives its jobs: while a beacon call blocks it, the node
# answers nothing, not even test.ping. So at most one check is in flight, a call waits for
# it only this long, and a check still running (rabbitmqctl on a loaded node with a peer
# down can take a minute) is collected by a later call instead of queueing another.
WAIT = 2.0
_RUNNING = {"check": None}


def beacon(config):
    """Report this node's problems (see the module doc)."""
    if _RUNNING["check"] is None:
        _RUNNING["check"] = _WORKER.submit(contextvars.copy_context().run, _check)
    try:
        events = _RUNNING["check"].result(timeout=WAIT)
    except concurrent.futures.TimeoutError:
        return []
    finally:
        if _RUNNING["check"].done():
            _RUNNING["check"] = None
    return events


def _check():
    topo = __salt__["ha_topology.get"]()
    node = __grains__["id"]
    if node not in (topo.get("nodes") or {}):
        return []
    settings = heal.beacon_settings(topo)
    now = time.monotonic()
    # The VIPs this load balancer holds (None elsewhere), read once for both uses.
    held = set(__salt__["ha_vip.held"]()) if node in loadbalancer.lb_nodes(topo) else None
    found = _problems(topo, node, settings, now, held)
    events = _vip_changes(node, held)
    seen = _SEEN["problems"]
    for key in list(seen):
        if key not in found:
            del seen[key]
    for key, payload in found.items():
        first, fired = seen.get(key, (None, now, None))[1:]
        if fired is None or now - fired >= settings["refire"]:
            events.append(dict(payload, tag=payload["kind"]))
            fired = now
        seen[key] = (payload, first, fired)
    return events
