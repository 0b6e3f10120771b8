"""
Corosync membership and Pacemaker resources on this node.

What the config and the CIB should be, and how the tools' output reads, is
:mod:`hastack.cluster`; this module runs ``crm_mon``, ``corosync-quorumtool``, ``cibadmin``,
``crm`` and ``crm_resource`` and writes corosync's authkey (binary, mode 0400).
"""

import os
import subprocess
import tempfile
import time

try:
    from hastack import cluster

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_cluster"

CRM_MON = ["crm_mon", "-1", "-r", "--include=failcounts", "--output-as=xml"]


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_cluster: the hastack package is not importable by this minion's "
                       "Python; install it there (salt-pip install hastack)")
    return __virtualname__


def _topo():
    return __salt__["ha_topology.get"]()


def _run(argv, timeout=30):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def members():
    """
    The cluster's members: ``hastack:cluster:nodes``, else the controllers.

    CLI Example:

    .. code-block:: bash

        salt-call ha_cluster.members
    """
    return cluster.members(_topo())


def fencing_warning():
    """
    The loud sentence for a cluster that runs without fencing (None when it has fence
    devices).

    CLI Example:

    .. code-block:: bash

        salt-call ha_cluster.fencing_warning
    """
    return cluster.fencing_warning(_topo())


def files():
    """
    The text files hastack manages for Corosync on this node (corosync.conf; the authkey is
    :func:`authkey`'s).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.files
    """
    return cluster.files(_topo(), __grains__["id"])


def render_batch():
    """
    The crm batch the pillar wants: properties, fence devices, resources, constraints.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.render_batch
    """
    return cluster.render_batch(_topo())


def authkey(test=False):
    """
    Write corosync's authkey (``hastack:secrets:corosync_authkey``, base64) decoded to
    /etc/corosync/authkey, mode 0400, owned by root. Returns ``{"result", "changed",
    "comment"}``; ``test=True`` only says whether it would change.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.authkey test=True
    """
    want = cluster.authkey_bytes(_topo())
    path = cluster.AUTHKEY
    try:
        with open(path, "rb") as f:
            have = f.read()
        st = os.stat(path)
        same = have == want and st.st_mode & 0o7777 == 0o400 and st.st_uid == 0
    except FileNotFoundError:
        have, same = None, False
    if same:
        return {"result": True, "changed": False, "comment": "%s is the pillar's key" % path}
    what = ("%s: missing" % path if have is None else
            "%s: key differs" % path if have != want else "%s: mode or owner" % path)
    if test:
        return {"result": None, "changed": True, "comment": "would write " + what}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path + ".hastack-new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o400)
    with os.fdopen(fd, "wb") as f:
        f.write(want)
    os.chown(path + ".hastack-new", 0, 0)
    os.chmod(path + ".hastack-new", 0o400)
    os.replace(path + ".hastack-new", path)
    return {"result": True, "changed": True, "comment": "wrote " + what}


def quorum():
    """
    Corosync's own view (``corosync-quorumtool -s -p``): quorate, votes, members. None when
    corosync does not answer.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.quorum
    """
    res = _run(["corosync-quorumtool", "-s", "-p"])
    # Exit 2 means "not quorate" and still prints the status.
    if res.returncode not in (0, 2) or "Quorate" not in res.stdout:
        return None
    return cluster.parse_quorumtool(res.stdout)


def crm_mon():
    """
    Pacemaker's view (``crm_mon --output-as=xml``), parsed: quorum, DC, nodes online, every
    resource and where it runs, fail counts. None when Pacemaker does not answer.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.crm_mon
    """
    res = _run(CRM_MON)
    if res.returncode != 0 or not res.stdout.lstrip().startswith("<"):
        return None
    return cluster.parse_crm_mon(res.stdout)


def status():
    """
    The cluster as this node sees it: ``{"ok", "quorate", "online", "offline", "dc",
    "resources" ({name: {"role", "nodes"}}), "failcounts", "problems", "fencing", "warning",
    "corosync"}``; None when Pacemaker does not answer here. ``warning`` is the loud line of
    a cluster without fencing.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,ctl2,ctl3 ha_cluster.status
    """
    mon = crm_mon()
    if mon is None:
        return None
    corosync = quorum()
    out = cluster.summary(_topo(), mon, corosync)
    out["corosync"] = corosync
    return out


def wait_ready(timeout=120):
    """
    Wait until this node sees the cluster quorate with every member online and a DC
    elected; returns the last :func:`status` (None if Pacemaker never answered) and
    ``seconds`` waited.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.wait_ready timeout=60
    """
    started = time.monotonic()
    deadline = started + float(timeout)
    while True:
        st = status()
        ready = bool(st and st["quorate"] and not st["offline"] and st["dc"])
        if ready or time.monotonic() >= deadline:
            return {"ready": ready, "status": st,
                    "seconds": round(time.monotonic() - started, 1)}
        time.sleep(0.5)


def cib():
    """
    The live CIB (``cibadmin --query``) in the model :func:`hastack.cluster.cib_wanted`
    gives. Raises when the CIB cannot be read.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.cib
    """
    res = _run(["cibadmin", "--query"])
    if res.returncode != 0:
        raise RuntimeError("cibadmin --query failed: %s" % (res.stderr or res.stdout).strip())
    model = cluster.parse_cib(res.stdout)
    # Tuples become lists over Salt's wire; keep keys printable.
    for p in model["primitives"].values():
        p["ops"] = {"%s %s" % k: v for k, v in p["ops"].items()}
        p["op_roles"] = {"%s %s" % k: v for k, v in p["op_roles"].items()}
    return model


def diff():
    """
    What differs between the pillar's resources and the live CIB: ``{"changes",
    "strangers"}`` (empty changes: the batch has nothing to do; strangers are resources and
    constraints the pillar does not name, left alone).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.diff
    """
    res = _run(["cibadmin", "--query"])
    if res.returncode != 0:
        raise RuntimeError("cibadmin --query failed: %s" % (res.stderr or res.stdout).strip())
    changes, strangers = cluster.cib_diff(cluster.cib_wanted(_topo()),
                                          cluster.parse_cib(res.stdout))
    return {"changes": changes, "strangers": strangers}


def apply():
    """
    Load the pillar's crm batch in one transaction (``crm configure load update FILE``),
    keeping the operator's run-time ``target-role`` and ``is-managed`` where the pillar does
    not set them. Returns ``{"result", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.apply
    """
    topo = _topo()
    res = _run(["cibadmin", "--query"])
    if res.returncode != 0:
        return {"result": False, "comment": "cibadmin --query failed: %s"
                                            % (res.stderr or res.stdout).strip()}
    keep = cluster.operator_meta(topo, cluster.parse_cib(res.stdout))
    fd, path = tempfile.mkstemp(prefix="hastack-crm-", suffix=".txt")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(cluster.render_batch(topo, keep))
        res = _run(["crm", "configure", "load", "update", path], timeout=120)
    finally:
        os.unlink(path)
    text = (res.stderr or res.stdout).strip()
    if res.returncode != 0:
        return {"result": False, "comment": "crm configure load update failed: %s"
                                            % text[-2000:]}
    return {"result": True, "comment": text[-2000:] or "batch loaded"}


def cleanup(resource, node=None):
    """
    Clear a resource's fail count and failed operations (on ``node``, default every node),
    so Pacemaker may run it there again. Fix the cause first.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.cleanup lab-vip-echo
        salt ctl1 ha_cluster.cleanup lab-vip-echo node=ctl2
    """
    argv = ["crm_resource", "--cleanup", "--resource", str(resource)]
    if node:
        argv += ["--node", str(node)]
    return _result(_run(argv, timeout=60))


def _result(res):
    return {"result": res.returncode == 0,
            "comment": (res.stdout or res.stderr).strip()[-2000:]}


def standby(node=None, timeout=120):
    """
    Put ``node`` (default: this one) in standby and wait until Pacemaker has moved its
    resources away (a departed node's drain: hastack/membership.py).

    CLI Example:

    .. code-block:: bash

        salt ctl4 ha_cluster.standby
    """
    node = node or __grains__["id"]
    res = _run(["crm_attribute", "--node", node, "--name", "standby", "--update", "on"])
    if res.returncode != 0:
        return _result(res)
    return _result(_run(["crm_resource", "--wait", "--timeout", "%ds" % timeout],
                        timeout=timeout + 10))


def leave():
    """
    Stop Pacemaker, then Corosync, on this node: it leaves the membership cleanly (the
    others' quorum counts it as gone, not as lost).

    CLI Example:

    .. code-block:: bash

        salt ctl4 ha_cluster.leave
    """
    for unit in ("pacemaker", "corosync"):
        res = _run(["systemctl", "stop", unit], timeout=180)
        if res.returncode != 0:
            return _result(res)
    return {"result": True, "comment": "pacemaker and corosync stopped"}


def forget(node):
    """
    Remove a stopped ``node`` from Pacemaker's node list (``crm_node --force --remove``).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_cluster.forget ctl4
    """
    return _result(_run(["crm_node", "--force", "--remove", str(node)], timeout=60))
