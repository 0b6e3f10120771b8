"""
Neutron on this node, and its agents as the Networking API reports them, with keystoneauth1.

The config, the rolling-restart rules and the rescheduling plan are :mod:`hastack.neutron`;
this module reads this node's health, runs ``neutron-db-manage`` and the agents' units, and
talks to the Networking API on its VIP (admin credentials from
``hastack:secrets:keystone_admin_password``, at the URLs the topology names).
"""

import datetime
import subprocess
import time

try:
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    from hastack import keystone, neutron, pins, probe, venvs

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_neutron"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_neutron: needs keystoneauth1 and the hastack package in the "
                       "minion's Python")
    return __virtualname__


def _topo():
    return __salt__["ha_topology.get"]()


# One session per process while the credentials stay the same: its token is re-used until
# it expires (keystoneauth1 renews it, and re-authenticates once on a 401), instead of a
# password check in Keystone for every look of the beacon or every poll of a wait.
_SESSION = {}


def _api():
    """(session, Networking API URL): the admin, scoped to the admin project."""
    topo = _topo()
    key = (keystone.auth_url(topo), topo["secrets"]["keystone_admin_password"])
    if key not in _SESSION:
        _SESSION.clear()
        _SESSION[key] = ks_session.Session(auth=v3.Password(
            auth_url=key[0], username="admin", password=key[1], project_name="admin",
            user_domain_id="default", project_domain_id="default"), timeout=10)
    return _SESSION[key], neutron.api_url(topo) + "/v2.0"


def install_missing():
    """
    The pinned Neutron packages (``hastack.pins.NEUTRON``) that Neutron's venv lacks or has
    at another version; empty when it is complete.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,net1 ha_neutron.install_missing
    """
    return venvs.missing(neutron.VENV, pins.NEUTRON)


def install():
    """
    Create Neutron's venv and install the pinned packages into it.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.install
    """
    return venvs.install(neutron.VENV, pins.NEUTRON)


def files():
    """
    Every file hastack manages for Neutron on this node (paths and modes).

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.files
    """
    return neutron.files(_topo(), __grains__["id"])


def units():
    """
    The Neutron units this node runs (server units on a controller, agents on a network node).

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.units
    """
    return neutron.units(_topo(), __grains__["id"])


def database_spec():
    """
    Neutron's database name, user and the host pattern it connects from.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_neutron.database_spec
    """
    return neutron.database_spec(_topo())


def health(url=None, timeout=2):
    """
    This controller's Neutron API answers ``GET /`` with 200 (its own address, not the VIP):
    ``{"ok", "url", "status", "seconds", "error"}``.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,ctl2,ctl3 ha_neutron.health
    """
    return probe.health(url or neutron.local_url(_topo(), __grains__["id"]), timeout)


def wait_healthy(timeout=90):
    """
    Wait until this controller's Neutron API answers 200; returns the last :func:`health`.

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_neutron.wait_healthy timeout=60
    """
    return probe.wait_healthy(neutron.local_url(_topo(), __grains__["id"]), timeout)


def db_sync(test=False):
    """
    Bring Neutron's schema to every head (``neutron-db-manage upgrade heads``) unless
    ``neutron-db-manage current`` says it is there: ``{"result", "changes", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_neutron.db_sync test=True
    """
    cur = subprocess.run(neutron.db_manage_argv("current"), capture_output=True, text=True,
                         timeout=300)
    if cur.returncode == 0 and neutron.db_at_head(cur.stdout + cur.stderr):
        return {"result": True, "changes": {}, "comment": "Neutron's schema is at head"}
    if test:
        return {"result": None, "changes": {"schema": "upgrade heads"},
                "comment": "would run neutron-db-manage upgrade heads"}
    res = subprocess.run(neutron.db_manage_argv("upgrade", "heads"), capture_output=True,
                         text=True, timeout=900)
    if res.returncode != 0:
        return {"result": False, "changes": {},
                "comment": "neutron-db-manage upgrade heads failed: %s"
                           % (res.stderr or res.stdout).strip()[-2000:]}
    return {"result": True, "changes": {"schema": "upgrade heads"},
            "comment": "neutron-db-manage upgrade heads"}


def _hosted(sess, url, agent):
    kind = {neutron.L3: ("l3-routers", "routers"),
            neutron.DHCP: ("dhcp-networks", "networks")}.get(agent["agent_type"])
    if kind is None:
        return []
    path, key = kind
    try:
        got = sess.get("%s/agents/%s/%s" % (url, agent["id"], path))
    except ks_exc.NotFound:          # deleted since the list (a group handed over): nothing
        return []
    return [r["id"] for r in got.json()[key]]


def agents(hosted=True):
    """
    Every Neutron agent as the API reports it (through the VIP): ``{"ok", "error",
    "agents": [{"id", "agent_type", "host", "alive", "admin_state_up", "started_at",
    "heartbeat_timestamp", "routers", "networks"}]}``; with ``hosted`` the router and network
    ids each L3 and DHCP agent hosts.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_neutron.agents
        salt ctl1 ha_neutron.agents hosted=False
    """
    try:
        sess, url = _api()
        found = sess.get(url + "/agents").json()["agents"]
        out = []
        for a in found:
            row = {k: a.get(k) for k in ("id", "agent_type", "host", "alive", "admin_state_up",
                                         "started_at", "heartbeat_timestamp")}
            ids = _hosted(sess, url, a) if hosted else []
            row["routers"] = ids if a["agent_type"] == neutron.L3 else []
            row["networks"] = ids if a["agent_type"] == neutron.DHCP else []
            out.append(row)
    except ks_exc.ClientException as exc:
        return {"ok": False, "error": "%s: %s" % (neutron.api_url(_topo()), exc), "agents": []}
    return {"ok": True, "error": None, "agents": sorted(out, key=lambda a: (
        str(a["host"]), str(a["agent_type"])))}


def restart_blockers():
    """
    Why restarting this network node's agents now would leave a kind of agent with no live
    instance; empty when it is safe.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.restart_blockers
    """
    res = agents(hosted=False)
    if not res["ok"]:
        return ["the agents cannot be read: %s" % res["error"]]
    return neutron.restart_blockers(__grains__["id"], res["agents"])


def _systemctl(*args):
    return subprocess.run(["systemctl"] + list(args), capture_output=True, text=True,
                          timeout=120)


def wait_agents_back(since, timeout=120, kinds=None):
    """
    Wait until every kind of agent on this node (or those of ``kinds``) is alive and
    started after ``since`` (ISO time, UTC): ``{"ok", "waiting_for", "seconds"}``.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.wait_agents_back 2026-11-24T05:00:00
    """
    since = neutron.parse_time(since)
    kinds = list(kinds or neutron.KINDS)
    started = time.monotonic()
    while True:
        res = agents(hosted=False)
        waiting = (neutron.waiting_for(__grains__["id"], res["agents"], since, kinds)
                   if res["ok"] else kinds)
        if not waiting or time.monotonic() - started >= float(timeout):
            return {"ok": not waiting, "waiting_for": waiting,
                    "seconds": round(time.monotonic() - started, 1)}
        time.sleep(1)


def _active_for(unit):
    """Seconds ``unit`` has been active, or None when it is not active."""
    res = _systemctl("show", "-p", "ActiveState", "-p", "ActiveEnterTimestampMonotonic", unit)
    props = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
    if props.get("ActiveState") != "active":
        return None
    return time.monotonic() - int(props.get("ActiveEnterTimestampMonotonic") or 0) / 1e6


def restart_dead(units):
    """
    Restart the agent ``units`` the API reports dead on this node (a hung agent: its unit
    is still active), except one whose unit is still starting
    (:func:`hastack.neutron.hung_grace`: a node that has just booted, or a rollout restarting
    it). ``{"restarted", "skipped", "failed"}``.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.restart_dead '["neutron-l3-agent"]'
    """
    grace = neutron.hung_grace(neutron.settings(_topo()))
    out = {"restarted": [], "skipped": [], "failed": []}
    for unit in units:
        age = _active_for(unit)
        if age is not None and age < grace:
            out["skipped"].append("%s started %.0f s ago" % (unit, age))
            continue
        res = _systemctl("restart", unit)
        (out["restarted"] if res.returncode == 0 else out["failed"]).append(unit)
    return out


def restart_agents(timeout=120, force=False, units=None):
    """
    Restart this network node's agents (or the agent ``units`` given), then wait until each
    is alive with a ``started_at`` newer than the restart. Refused (nothing restarted) when
    another host has no live agent of a kind this node runs, unless ``force``.
    ``{"result", "comment", "seconds"}``.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.restart_agents
    """
    if isinstance(units, str):
        units = units.split(",")
    units = list(units or neutron.AGENT_UNITS)
    kinds = [k for k, u in neutron.UNIT_OF_KIND.items() if u in units]
    if not force:
        blockers = restart_blockers()
        if blockers:
            return {"result": False, "seconds": 0,
                    "comment": "refused: " + "; ".join(blockers)}
    # started_at has whole seconds: a restart in the same second must still count as after.
    since = (datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
             - datetime.timedelta(seconds=1))
    started = time.monotonic()
    res = _systemctl("restart", *units)
    if res.returncode != 0:
        return {"result": False, "seconds": round(time.monotonic() - started, 1),
                "comment": "systemctl restart failed: %s" % res.stderr.strip()}
    back = wait_agents_back(since.isoformat(), timeout=timeout, kinds=kinds)
    seconds = round(time.monotonic() - started, 1)
    if not back["ok"]:
        return {"result": False, "seconds": seconds,
                "comment": "restarted; not back within %s s: %s" % (
                    timeout, ", ".join(back["waiting_for"]))}
    return {"result": True, "seconds": seconds,
            "comment": "restarted; every agent alive again after %.1f s" % seconds}


def _running(units):
    """Those of ``units`` systemd reports active."""
    states = _systemctl("is-active", *units).stdout.split()
    return [u for u, state in zip(units, states) if state == "active"]


def passive_role():
    """
    ``agents:mode: active_passive``: whether this network node runs the agent group now
    (:func:`hastack.neutron.passive_role`): ``{"role": "active" | "standby", "why"}``.
    Raises when the agents cannot be read: guessing could start a second group.

    CLI Example:

    .. code-block:: bash

        salt -L net1,net2 ha_neutron.passive_role
    """
    res = agents(hosted=False)
    if not res["ok"]:
        raise RuntimeError("the agents cannot be read: %s" % res["error"])
    topo, node = _topo(), __grains__["id"]
    role, why = neutron.passive_role(node, neutron.agent_nodes(topo), res["agents"],
                                     bool(_running(neutron.AGENT_UNITS)))
    return {"role": role, "why": why}


def stop_agents():
    """
    Stop this network node's agents (``active_passive``: the group moves to another node).
    ``{"result", "stopped", "comment"}``: ``stopped`` lists the units that were running.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_neutron.stop_agents
    """
    running = _running(neutron.AGENT_UNITS)
    if not running:
        return {"result": True, "stopped": [], "comment": "no agent runs"}
    res = _systemctl("stop", *running)
    return {"result": res.returncode == 0, "stopped": running,
            "comment": "stopped %s%s" % (", ".join(running), "" if res.returncode == 0
                                         else ": " + res.stderr.strip())}


def _apply(sess, url, action):
    kind = action["action"]
    agent = "%s/agents/%s" % (url, action["agent"])
    if kind == "add_router":
        sess.post(agent + "/l3-routers", json={"router_id": action["router"]})
    elif kind == "remove_router":
        sess.delete("%s/l3-routers/%s" % (agent, action["router"]))
    elif kind == "add_network":
        sess.post(agent + "/dhcp-networks", json={"network_id": action["network"]})
    elif kind == "remove_network":
        sess.delete("%s/dhcp-networks/%s" % (agent, action["network"]))


def reschedule(host, test=False, forget=False):
    """
    Move the routers and networks that ``host``'s dead agents hosted to live agents
    (:func:`hastack.neutron.reschedule_plan`). Nothing is done while an agent of ``host`` is
    alive, unless ``forget``: ``active_passive`` moves the group off ``host`` (its agents
    were stopped, the API may call them alive for ``agent_down_time``), and once everything
    moved it deletes ``host``'s agent records, so that nothing is scheduled to them and the
    dead agents are not reported again. ``{"result", "changes", "comment"}``: one line per
    action.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_neutron.reschedule net1 test=True
        salt ctl1 ha_neutron.reschedule net1 forget=True
    """
    res = agents()
    if not res["ok"]:
        return {"result": False, "changes": {}, "comment": res["error"]}
    found = res["agents"]
    mine = [a for a in found if neutron.on_host(a, host)]
    alive = [a for a in mine if a["alive"]]
    if alive and not forget:
        return {"result": True, "changes": {},
                "comment": "%s has live agents (%s): nothing to move" % (
                    host, ", ".join(a["agent_type"] for a in alive))}
    cfg = neutron.settings(_topo())["agents"]
    sess, url = _api()
    legacy = [r["id"] for r in sess.get(url + "/routers", params={
        "fields": ["id", "ha"]}).json()["routers"] if not r.get("ha")]
    plan = neutron.reschedule_plan(
        host, found, {a["id"]: a["routers"] for a in found},
        {a["id"]: a["networks"] for a in found},
        cfg["max_l3_agents_per_router"] if cfg["l3_ha"] else 1,
        cfg["dhcp_agents_per_network"], legacy_routers=legacy)
    lines = [neutron.describe(a) for a in plan]
    moves = [a for a in plan if a["action"].startswith(("add_", "remove_"))]
    stranded = [a for a in plan if a["action"] == "stranded"]
    forgets = ["forget the %s %s of %s" % (a["agent_type"], a["id"], host)
               for a in mine] if forget and not stranded else []
    if test or not (moves or forgets):
        what = {k: v for k, v in (("moved", [neutron.describe(a) for a in moves]),
                                  ("forgotten", forgets)) if v}
        return {"result": None if what else True, "changes": what,
                "comment": "; ".join(lines + forgets) or "%s hosted nothing" % host}
    done, failed = [], []
    for action in moves:
        try:
            _apply(sess, url, action)
            done.append(neutron.describe(action))
        except ks_exc.NotFound:
            pass                      # the router or network is gone meanwhile
        except ks_exc.ClientException as exc:
            failed.append("%s: %s" % (neutron.describe(action), exc))
    gone = []
    for agent, line in zip(mine, forgets) if not failed else ():
        try:
            sess.delete("%s/agents/%s" % (url, agent["id"]))
            gone.append(line)
        except ks_exc.NotFound:
            pass
        except ks_exc.ClientException as exc:
            failed.append("%s: %s" % (line, exc))
    notes = [line for a, line in zip(plan, lines) if a not in moves]
    changes = {k: v for k, v in (("moved", done), ("forgotten", gone)) if v}
    return {"result": not failed, "changes": changes,
            "comment": "; ".join(done + gone + ["FAILED " + f for f in failed] + notes)
            or "%s: nothing left to move or forget" % host}
