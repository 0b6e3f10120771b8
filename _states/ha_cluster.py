"""
Corosync and Pacemaker from the topology pillar (``hastack:cluster``).

.. code-block:: yaml

    cluster-config:
      ha_cluster.configured: []   # corosync.conf and the authkey, on every member
    cluster-ready:
      ha_cluster.ready: []        # quorate, every member online (waits for it)
    cluster-forgotten:
      ha_cluster.forgotten: []    # nodes no longer members leave Pacemaker's list, on one
    cluster-resources:
      ha_cluster.resources: []    # the crm batch, once, on one member

A cluster without fencing (``fencing: disabled-i-accept-split-brain``) says so in every
state's ``warnings``.
"""

try:
    from hastack import cluster
    from hastack import files as hfiles

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_cluster"


def __virtual__():
    if not HAS_HASTACK or "ha_cluster.files" not in __salt__:
        return (False, "The 'ha_cluster' execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _warn(ret):
    warning = __salt__["ha_cluster.fencing_warning"]()
    if warning:
        ret.setdefault("warnings", []).append(warning)
    return ret


def configured(name="corosync"):
    """corosync.conf (checked with ``corosync -t`` before it replaces the one in use) and
    the authkey (decoded from the pillar, mode 0400); a diff for the config, never the key."""
    test = __opts__["test"]
    # The key first: ``corosync -t`` refuses a knet config with crypto while it is missing.
    key = __salt__["ha_cluster.authkey"](test=test)
    ret = hfiles.converge(name, __salt__["ha_cluster.files"](), test=test)
    if key["changed"]:
        ret["changes"]["/etc/corosync/authkey"] = "(key changed)"
        if test:
            ret["result"] = None
    ret["comment"] = "; ".join(c for c in (ret["comment"], key["comment"]) if c)
    return _warn(ret)


def ready(name="cluster", timeout=120):
    """This node sees the cluster quorate with every member online and a DC elected,
    within ``timeout`` seconds. Changes nothing; fails the run when it does not happen."""
    ret = _ret(name)
    if __opts__["test"]:
        ret["comment"] = "would wait until quorate with every member online"
        return _warn(ret)
    res = __salt__["ha_cluster.wait_ready"](timeout=timeout)
    st = res["status"]
    if res["ready"]:
        ret["comment"] = ("quorate, %d members online (%s), DC %s, after %.1f s"
                          % (len(st["online"]), ", ".join(st["online"]), st["dc"],
                             res["seconds"]))
    elif st is None:
        ret.update(result=False, comment="Pacemaker does not answer here after %s s; see "
                   "`journalctl -u corosync -u pacemaker`" % timeout)
    else:
        ret.update(result=False, comment="not ready after %s s: %s" % (
            timeout, "; ".join(st["problems"]) or "no DC elected"))
    return _warn(ret)


def forgotten(name="cluster-membership"):
    """Nodes Pacemaker lists that the pillar no longer names, once offline (drained by
    ``hastack.drain_departed``, then out of corosync.conf), are removed from its node list."""
    ret = _ret(name)
    mon = __salt__["ha_cluster.crm_mon"]()
    if mon is None:
        ret.update(result=False, comment="Pacemaker does not answer here")
        return ret
    gone = cluster.forget_plan(__salt__["ha_topology.get"](), mon)
    if not gone:
        ret["comment"] = "Pacemaker's nodes are the pillar's members"
        return _warn(ret)
    ret["changes"] = {"forgotten": gone}
    if __opts__["test"]:
        ret.update(result=None, comment="would remove %s from Pacemaker" % ", ".join(gone))
        return _warn(ret)
    for node in gone:
        res = __salt__["ha_cluster.forget"](node)
        if not res["result"]:
            ret.update(result=False, changes={}, comment="%s: %s" % (node, res["comment"]))
            return _warn(ret)
    ret["comment"] = "removed %s from Pacemaker" % ", ".join(gone)
    return _warn(ret)


def resources(name="cluster-resources"):
    """Properties, fence devices, resources and constraints as the pillar says, loaded as
    one batch only when the live CIB differs (a second run changes nothing); the changes
    list each difference. Resources the pillar does not name are reported, not removed."""
    ret = _ret(name)
    try:
        before = __salt__["ha_cluster.diff"]()
    except RuntimeError as exc:
        ret.update(result=False, comment=str(exc))
        return _warn(ret)
    note = cluster.strangers_note(before["strangers"])
    if not before["changes"]:
        ret["comment"] = "the CIB has what the pillar says" + note
        return _warn(ret)
    ret["changes"] = {"cib": before["changes"]}
    if __opts__["test"]:
        ret.update(result=None, comment="would load the crm batch: %d difference(s)%s"
                   % (len(before["changes"]), note))
        return _warn(ret)
    res = __salt__["ha_cluster.apply"]()
    if not res["result"]:
        ret.update(result=False, changes={}, comment=res["comment"])
        return _warn(ret)
    after = __salt__["ha_cluster.diff"]()
    if after["changes"]:
        ret.update(result=False, comment="the batch loaded but the CIB still differs: %s"
                   % "; ".join(after["changes"]))
        return _warn(ret)
    ret["comment"] = "loaded the crm batch (%d difference(s))%s" % (len(before["changes"]),
                                                                   note)
    return _warn(ret)


def fencing(name="fencing"):
    """Say how the cluster is fenced: its fence devices, or, as a warning that every output
    mode prints, that it runs without fencing. Changes nothing (orch.deploy runs it last, on
    the master, so the deploy ends with it)."""
    ret = _ret(name)
    topo = __salt__["ha_topology.get"]()
    devices = (topo.get("cluster") or {}).get("fencing")
    if isinstance(devices, list):
        ret["comment"] = "fence devices: %s" % ", ".join(
            "%s (%s, fences %s)" % (d.get("name"), d.get("agent"), ", ".join(d.get("nodes", [])))
            for d in devices)
        return ret
    ret["comment"] = "this cluster runs WITHOUT FENCING"
    return _warn(ret)
