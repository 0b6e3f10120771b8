"""
Neutron from the topology pillar: its venv, files and schema on the controllers, and the
agents on a network node restarted only when it is safe and waited for until they are back.

.. code-block:: yaml

    neutron-venv:
      ha_neutron.installed: []      # the pinned Neutron packages in their own venv
    neutron-config:
      ha_neutron.configured: []     # neutron.conf, ml2_conf.ini, agent inis, units, wrapper
    neutron-schema:
      ha_neutron.db_synced: []      # once, on one controller
    neutron-healthy:
      ha_neutron.healthy: []        # this controller's API answers GET / (waits for it)
    neutron-agents:
      ha_neutron.agents_running: [] # a network node's agents: safe restart, then back
"""

import subprocess

try:
    from hastack import files as hfiles
    from hastack import heal, neutron, pins, probe, venvs

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_neutron"


def __virtual__():
    if not HAS_HASTACK or "ha_neutron.files" not in __salt__:
        return (False, "The 'ha_neutron' execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def installed(name="neutron"):
    """Neutron's venv holds the pinned packages (``hastack.pins.NEUTRON``)."""
    return venvs.converge(name, neutron.VENV, pins.NEUTRON, test=__opts__["test"])


def configured(name="neutron"):
    """Every Neutron file of this node (:func:`hastack.neutron.files`); a diff for each file
    that changes. Secrets in them never appear in the changes."""
    ret = hfiles.converge(name, __salt__["ha_neutron.files"](), test=__opts__["test"])
    ret["changes"] = {path: ("(changed; holds secrets)" if path.endswith((".conf", ".ini"))
                             else diff) for path, diff in ret["changes"].items()}
    return ret


def db_synced(name="neutron"):
    """The schema is at every head (``neutron-db-manage upgrade heads`` only when it is
    not). Run it on one controller: orch.deploy does, before the others start."""
    ret = _ret(name)
    res = __salt__["ha_neutron.db_sync"](test=__opts__["test"])
    ret.update(result=res["result"], changes=res["changes"], comment=res["comment"])
    return ret


def healthy(name="neutron", timeout=90):
    """This controller's Neutron API answers ``GET /`` with 200 within ``timeout`` seconds.
    Changes nothing; fails the run (and so the rollout) when it does not."""
    if __opts__["test"]:
        return {"name": name, "result": True, "changes": {},
                "comment": "would check %s" % __salt__["ha_neutron.health"](timeout=1)["url"]}
    res = __salt__["ha_neutron.wait_healthy"](timeout=timeout)
    return probe.healthy_state(name, res, timeout, "neutron-api")


def _each(verb, units):
    """``{unit: answer}`` of ``systemctl is-active`` or ``is-enabled`` for ``units``."""
    res = subprocess.run(["systemctl", verb] + list(units), capture_output=True, text=True,
                         timeout=30)
    return dict(zip(units, res.stdout.split()))


def agents_running(name="neutron-agents", timeout=120):
    """This network node's L3, DHCP and metadata agents run with its current files.

    When a file changed or an agent is not running, the agents are (re)started, but only
    if another host has a live agent of every kind this node runs
    (:func:`hastack.neutron.restart_blockers`), and the state then waits until each agent
    is alive with a ``started_at`` newer than the restart (``alive`` alone stays true for up
    to ``agent_down_time`` after an agent died). With nothing to change it changes nothing.

    ``agents:mode: active_passive``: one node runs the group
    (:func:`hastack.neutron.passive_role`). There, a changed file restarts it in place (an
    outage of the group, as with any active/passive restart) and a stopped agent is started;
    elsewhere the files are written, running agents are stopped and the node's routers,
    networks and agent records are handed to the group's node
    (``ha_neutron.reschedule forget=True``). The units are never enabled: a node that boots
    does not start a second group.
    """
    units = list(neutron.AGENT_UNITS)
    files = __salt__["ha_neutron.files"]()
    changed = sorted(hfiles.converge(name, files, test=True)["changes"])
    topo = __salt__["ha_topology.get"]()
    if heal.pacemaker_agents(topo):
        return _pacemakers(name, files, changed, [
            u for u, v in _each("is-enabled", units).items() if v == "enabled"])
    active, enabled = _each("is-active", units), _each("is-enabled", units)
    if neutron.passive(topo):
        return _passive(name, timeout, files, changed, active, enabled)
    ret = _ret(name)
    stopped = [u for u in units if active.get(u) != "active"]
    disabled = [u for u in units if enabled.get(u) != "enabled"]
    if not changed and not stopped and not disabled:
        ret["comment"] = "the agents run with the current files"
        return ret
    # A changed file restarts every agent; otherwise only a stopped one is started.
    todo = units if changed else stopped
    what = {k: v for k, v in (("files", changed), ("restarted" if changed else "started", todo),
                              ("enabled", disabled)) if v}
    if __opts__["test"]:
        ret.update(result=None, changes=what, comment="would write %d file(s), (re)start %s"
                   % (len(changed), ", ".join(todo) or "nothing"))
        return ret
    if changed and len(stopped) < len(units):
        blockers = __salt__["ha_neutron.restart_blockers"]()
        if blockers:
            ret.update(result=False, comment="not restarted: " + "; ".join(blockers))
            return ret
    failed = _write(name, files, changed, "enable", disabled)
    if failed:
        return failed
    ret["changes"] = what
    if not todo:
        ret["comment"] = "enabled %s" % ", ".join(disabled)
        return ret
    return _restart(ret, todo, timeout)


def _pacemakers(name, files, changed, enabled):
    """The agents are Pacemaker's resources: their files are written (Pacemaker's systemd
    resources run these units) and units still enabled from hastack's own mode are
    disabled (a booting node must not start them behind Pacemaker's back); nothing is
    started or stopped."""
    ret = _ret(name)
    why = "Pacemaker runs the agents (hastack:cluster:resources)"
    what = {k: v for k, v in (("files", changed), ("disabled", enabled)) if v}
    if not what:
        ret["comment"] = why + "; their files are current"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=what, comment="%s; would write %d file(s), disable "
                   "%s" % (why, len(changed), ", ".join(enabled) or "nothing"))
        return ret
    failed = _write(name, files, changed, "disable", enabled)
    if failed:
        return failed
    ret.update(changes=what, comment="%s; wrote %d file(s)%s%s" % (
        why, len(changed), ", disabled %s" % ", ".join(enabled) if enabled else "",
        ": restart them with Pacemaker (crm_resource --restart) to take effect"
        if changed else ""))
    return ret


def _systemctl(verb, units):
    subprocess.run(["systemctl", verb] + list(units), check=True, timeout=120,
                   capture_output=True)


def _write(name, files, changed, verb, units):
    """Write the changed files and reload systemd, then ``systemctl verb units`` (enable,
    disable): None, or the failed write's state."""
    if changed:
        wrote = hfiles.converge(name, files)
        if wrote["result"] is False:
            return wrote
        subprocess.run(["systemctl", "daemon-reload"], check=True, timeout=60)
    if units:
        _systemctl(verb, units)
    return None


def _restart(ret, units, timeout, head=None):
    """(Re)start ``units`` and wait until their agents are back (``restart_agents``)."""
    res = __salt__["ha_neutron.restart_agents"](timeout=timeout, force=True, units=units)
    ret.update(result=res["result"], comment="%s: %s" % (head, res["comment"]) if head
               else res["comment"])
    return ret


def _passive(name, timeout, files, changed, active, enabled):
    """``agents_running`` in ``active_passive`` (see there)."""
    ret = _ret(name)
    units = list(neutron.AGENT_UNITS)
    try:
        role = __salt__["ha_neutron.passive_role"]()
    except RuntimeError as exc:
        ret.update(result=False, comment="active_passive: %s; nothing changed" % exc)
        return ret
    running = [u for u in units if active.get(u) == "active"]
    stopped = [u for u in units if u not in running]
    on = [u for u in units if enabled.get(u) == "enabled"]
    head = "active_passive, %s (%s)" % (role["role"], role["why"])
    if role["role"] == "active":
        todo = units if changed else stopped
        what = {k: v for k, v in (("files", changed),
                                  ("restarted" if changed else "started", todo),
                                  ("disabled", on)) if v}
    else:
        todo = []
        handed = __salt__["ha_neutron.reschedule"](__grains__["id"], test=True, forget=True)
        if handed["result"] is False:
            ret.update(result=False, comment="%s: %s" % (head, handed["comment"]))
            return ret
        what = dict({k: v for k, v in (("files", changed), ("stopped", running),
                                       ("disabled", on)) if v}, **handed["changes"])
    if not what:
        ret["comment"] = head + ": nothing to do"
        return ret
    if __opts__["test"]:
        ret.update(result=None, changes=what, comment=head + ": would change %s"
                   % ", ".join(sorted(what)))
        return ret
    failed = _write(name, files, changed, "disable", on)
    if failed:
        return failed
    if role["role"] == "active":
        ret["changes"] = what
        if not todo:
            ret["comment"] = head
            return ret
        return _restart(ret, todo, timeout, head)
    if running:
        _systemctl("stop", running)
    res = __salt__["ha_neutron.reschedule"](__grains__["id"], forget=True)
    what.pop("moved", None)
    what.pop("forgotten", None)
    ret.update(result=res["result"], changes=dict(what, **res["changes"]),
               comment="%s: %s" % (head, res["comment"]))
    return ret
