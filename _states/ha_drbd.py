"""
A DRBD resource from the topology pillar (``hastack:drbd:resources``).

.. code-block:: yaml

    drbd-mysql:
      ha_drbd.resource:
        - name: mysql

Writes ``/etc/drbd.d/<name>.res`` (checked with ``drbdadm dump`` first), creates the
metadata once (never over existing metadata), brings the resource up, and only on first
creation (both disks Inconsistent with fresh metadata, connected) makes the first node of the
pillar's ``nodes`` Primary with ``--force`` so the initial sync copies it to the peer. It never
moves the Primary role otherwise: ``salt-run hastack.drbd_failover`` does that, by the rules
in :mod:`hastack.drbd`.
"""

import time

try:
    from hastack import drbd
    from hastack import files as hfiles

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_drbd"

CONNECT_WAIT = 180   # seconds the first node waits for its peer on first creation


def __virtual__():
    if not HAS_HASTACK or "ha_drbd.status" not in __salt__:
        return (False, "The 'ha_drbd' execution module is not available")
    return __virtualname__


def _status(name):
    return drbd.Status.from_dict(__salt__["ha_drbd.status"](name))


def _first_creation_decision(name, nodes, me, wait):
    """The promotion decision for ``me`` on first creation, waiting up to ``wait`` seconds
    for the peer to connect (both nodes run this state at the same time)."""
    deadline = time.monotonic() + wait
    while True:
        st = _status(name)
        if st.connected or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if not drbd.first_creation({me: st}, nodes):
        return None, st
    return drbd.promotion(name, nodes, me, {me: st}), st


def resource(name):
    """The resource file, metadata created once, the resource up, and the first node made
    Primary on first creation only."""
    test = __opts__["test"]
    topo = __salt__["ha_topology.get"]()
    res = drbd.resources(topo).get(name)
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if res is None:
        ret.update(result=False, comment="hastack:drbd:resources:%s: not in the pillar" % name)
        return ret
    me = __grains__["id"]
    if me not in res["nodes"]:
        ret.update(result=False, comment="hastack:drbd:resources:%s:nodes: %s is not a node "
                   "of this resource" % (name, me))
        return ret
    path = __salt__["ha_drbd.config_path"](name)
    files = hfiles.converge(path, {path: (__salt__["ha_drbd.render_config"](name), 0o644,
                                          ["drbdadm", "-c", "{path}", "dump", name])},
                            test=test)
    if files["result"] is False:
        return dict(ret, result=False, comment=files["comment"])
    ret["changes"].update(files["changes"])
    comments = [files["comment"]]
    st = _status(name)
    if not st.configured and not __salt__["ha_drbd.has_metadata"](name):
        ret["changes"]["metadata"] = "created on %s" % res["disk"]
        if not test:
            out = __salt__["ha_drbd.create_md"](name)
            if not out["result"]:
                return dict(ret, result=False, comment="create-md: " + out["comment"])
    if not st.configured and res.get("manager") == "pacemaker" \
            and "metadata" not in ret["changes"]:
        # Pacemaker's ocf:linbit:drbd brings it up where and when it runs it.
        comments.append("%s is down here; Pacemaker brings it up" % name)
    elif not st.configured:
        ret["changes"]["up"] = name
        if not test:
            out = __salt__["ha_drbd.up"](name)
            if not out["result"]:
                return dict(ret, result=False, comment="drbdadm up: " + out["comment"])
    elif files["changes"] and not test:
        out = __salt__["ha_drbd.adjust"](name)
        if not out["result"]:
            return dict(ret, result=False, comment="drbdadm adjust: " + out["comment"])
        comments.append("adjusted")
    if test:
        if ret["changes"]:
            ret["result"] = None
            if "metadata" in ret["changes"] and me == res["nodes"][0]:
                ret["changes"]["primary"] = "forced on first creation (initial sync source)"
        ret["comment"] = "would: %s" % ", ".join(sorted(ret["changes"])) if ret["changes"] \
            else "%s is configured and up" % name
        return ret
    if me == res["nodes"][0]:
        decision, st = _first_creation_decision(name, res["nodes"], me,
                                                CONNECT_WAIT if "metadata" in ret["changes"]
                                                else 0)
        if decision is not None:
            if decision.action != "promote" or not decision.force:
                return dict(ret, result=False, comment="first creation: " + decision.reason)
            out = __salt__["ha_drbd.primary"](name, force=True)
            if not out["result"]:
                return dict(ret, result=False, comment="drbdadm primary --force: "
                            + out["comment"])
            ret["changes"]["primary"] = decision.reason
    comments.append("%s: %s" % (name, drbd.describe(_status(name))))
    ret["comment"] = "; ".join(c for c in comments if c)
    return ret
