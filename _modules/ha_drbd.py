"""
DRBD on this node: a resource's status (role, disk, connection, sync progress, peer role)
for DRBD 8.4 and 9, the drbdadm verbs (create-md, up, down, primary, secondary), and the
service stack on top (promote: Primary, mount, MariaDB, the service's address; demote: the
reverse).

The decisions (may this node be promoted, with ``--force`` or not; split-brain) are
:mod:`hastack.drbd`; ``salt-run hastack.drbd_failover`` runs them across the nodes.
Resources are the pillar's ``hastack:drbd:resources``.
"""

import os
import socket
import subprocess
import time

try:
    from pyroute2 import IPRoute

    from hastack import drbd
    from hastack import vip as vipfacts

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_drbd"

PROC = "/proc/drbd"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_drbd: needs pyroute2 and the hastack package in the minion's Python")
    if not os.path.exists("/sbin/drbdadm") and not os.path.exists("/usr/sbin/drbdadm"):
        return (False, "ha_drbd: drbdadm not found; install drbd-utils")
    return __virtualname__


def _res(resource):
    topo = __salt__["ha_topology.get"]()
    found = drbd.resources(topo).get(resource)
    if found is None:
        raise ValueError("hastack:drbd:resources:%s: no such resource in the pillar" % resource)
    return topo, found


def _run(argv, timeout=60, input=None):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    return {"result": res.returncode == 0, "retcode": res.returncode,
            "comment": (res.stderr or res.stdout).strip()[-2000:], "stdout": res.stdout}


def _drbdadm(*args, timeout=60):
    out = _run(["drbdadm"] + list(args), timeout=timeout)
    out.pop("stdout")
    return out


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def version():
    """
    ``[major, minor]`` of the loaded DRBD kernel module, or None when it is not loaded.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.version
    """
    found = drbd.parse_version(_read(PROC))
    return list(found) if found else None


def _load_module():
    if not os.path.exists(PROC):
        subprocess.run(["modprobe", "drbd"], capture_output=True, timeout=60)


def split_brain_flag(resource):
    return os.path.join(drbd.SPLIT_BRAIN_FLAGS, "%s.split-brain" % resource)


def status(resource):
    """
    This node's view of ``resource``: role, disk state, connection and replication state,
    peer role and disk, sync progress, split-brain, the current data-generation UUID.
    DRBD 9: ``drbdsetup status --json``; 8.4 (no JSON there): ``/proc/drbd``.

    CLI Example:

    .. code-block:: bash

        salt -L db1,db2 ha_drbd.status mysql
    """
    _, res = _res(resource)
    ver = drbd.parse_version(_read(PROC))
    st = None
    if ver and ver[0] >= 9:
        out = _run(["drbdsetup", "status", resource, "--json"], timeout=30)
        if out["result"]:
            st = drbd.parse_status_json(out["stdout"], resource)
    elif ver:
        st = drbd.parse_proc_drbd(_read(PROC), drbd.minor(res["device"]))
    if st is None:
        st = drbd.Status(resource=resource)
    st.resource = resource
    # The handler's flag stands until the nodes are connected again (the operator's
    # recovery); only a StandAlone resource can be in split-brain.
    flag = split_brain_flag(resource)
    if st.connected and os.path.exists(flag):
        os.unlink(flag)
    st.split_brain = os.path.exists(flag) and st.connection == "StandAlone"
    if st.configured:
        gi = _run(["drbdadm", "get-gi", resource], timeout=30)
        if gi["result"]:
            st.current_uuid = drbd.parse_gi(gi["stdout"])
    return st.as_dict()


def status_text(resource):
    """
    ``drbdadm status RESOURCE`` as DRBD prints it, parsed (8.4 through drbd-utils 9, or 9).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.status_text mysql
    """
    out = _run(["drbdsetup", "status", resource, "--verbose", "--statistics"], timeout=30)
    if not out["result"]:
        return None
    st = drbd.parse_status_text(out["stdout"], resource)
    return st.as_dict() if st else None


def service_config(resource):
    """
    The config of the service on top of ``resource``: ``{"path", "text"}``, or None when
    hastack writes none for it (MariaDB: its data on the DRBD filesystem, bound to the
    resource's own address).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.service_config mysql
    """
    _, res = _res(resource)
    conf = drbd.service_config(res)
    return None if conf is None else {"path": conf[0], "text": conf[1]}


def render_config(resource):
    """
    The resource file hastack renders for ``resource`` (for this node's DRBD version).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.render_config mysql
    """
    topo, _ = _res(resource)
    _load_module()
    return drbd.render_resource(topo, resource, tuple(version() or (8, 4)))


def config_path(resource):
    """
    Where the resource file goes.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.config_path mysql
    """
    return "/etc/drbd.d/%s.res" % resource


def has_metadata(resource):
    """
    Whether ``resource``'s backing disk carries DRBD metadata (always True while it is up).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.has_metadata mysql
    """
    if drbd.Status.from_dict(status(resource)).configured:
        return True
    out = _run(["drbdadm", "dump-md", resource], timeout=60)
    return out["result"]


def create_md(resource):
    """
    Write fresh DRBD metadata on the backing disk. Refused when metadata exists: that would
    throw away the generation history the promotion rules read.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.create_md mysql
    """
    if has_metadata(resource):
        return {"result": False, "comment": "%s already has DRBD metadata" % resource}
    _load_module()
    # create-md asks before writing over anything that looks like data: answer only for a
    # disk has_metadata() found without DRBD metadata.
    out = _run(["drbdadm", "create-md", resource], timeout=120, input="yes\nyes\n")
    out.pop("stdout")
    return out


def up(resource):
    """
    Attach the disk and connect to the peer (``drbdadm up``); the node comes up Secondary.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.up mysql
    """
    _load_module()
    if drbd.Status.from_dict(status(resource)).configured:
        return {"result": True, "comment": "%s is already up" % resource}
    return _drbdadm("up", resource)


def down(resource):
    """
    Disconnect and detach ``resource`` (refused by DRBD while it is Primary).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.down mysql
    """
    return _drbdadm("down", resource)


def adjust(resource):
    """
    Apply a changed resource file to the running resource (``drbdadm adjust``).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.adjust mysql
    """
    return _drbdadm("adjust", resource)


def connect(resource):
    """
    Reconnect a StandAlone resource to its peer.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.connect mysql
    """
    return _drbdadm("connect", resource)


def primary(resource, force=False):
    """
    ``drbdadm primary`` (``--force`` only when the runner's decision says so). Prefer
    ``salt-run hastack.drbd_failover``, which checks the rules first.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.primary mysql
    """
    args = ["primary", "--force", resource] if force else ["primary", resource]
    return _drbdadm(*args)


def secondary(resource):
    """
    ``drbdadm secondary`` (DRBD refuses while the device is open, e.g. mounted).

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.secondary mysql
    """
    return _drbdadm("secondary", resource)


# -- the service stack ---------------------------------------------------------------------------

def _mounted(mount):
    for line in _read("/proc/self/mounts").splitlines():
        if line.split()[1] == mount:
            return True
    return False


def _link_of(address):
    """Index and name of the link that carries ``address``."""
    with IPRoute() as ipr:
        for msg in ipr.get_addr(family=socket.AF_INET):
            if msg.get_attr("IFA_ADDRESS") == address:
                link = ipr.get_links(msg["index"])[0]
                return msg["index"], link.get_attr("IFLA_IFNAME"), msg["prefixlen"]
    return None, None, None


def _address_held(address):
    return _link_of(address)[0] is not None


def _add_address(topo, address):
    me = str(topo["nodes"][__grains__["id"]]["address"])
    index, link, prefix = _link_of(me)
    if index is None:
        raise RuntimeError("this node's own address %s is on no link" % me)
    if not _address_held(address):
        with IPRoute() as ipr:
            ipr.addr("add", index=index, address=address, prefixlen=prefix)
    with IPRoute() as ipr:
        mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((link, 0))
        sock.send(vipfacts.garp_frame(mac, address))


def _del_address(address):
    index, _, prefix = _link_of(address)
    if index is not None:
        with IPRoute() as ipr:
            ipr.addr("del", index=index, address=address, prefixlen=prefix)


def _wait_role(resource, role, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = drbd.Status.from_dict(status(resource))
        if st.role == role:
            return st
        time.sleep(0.2)
    return None


def _fs_type(device):
    out = _run(["blkid", "-o", "value", "-s", "TYPE", device], timeout=30)
    return out["stdout"].strip()


def _systemctl(verb, unit, timeout=300):
    out = _run(["systemctl", verb, unit], timeout=timeout)
    out.pop("stdout")
    return out


def _prepare_service(res):
    """MariaDB's config, and its system tables on first use of the filesystem."""
    conf = drbd.service_config(res)
    if conf is None:
        return
    path, text = conf
    if _read(path) != text:
        with open(path, "w") as f:
            f.write(text)
    data = drbd.datadir(res)
    if not os.path.isdir(os.path.join(data, "mysql")):
        os.makedirs(data, exist_ok=True)
        out = _run(["mariadb-install-db", "--user=mysql", "--datadir=" + data,
                    "--skip-test-db", "--auth-root-authentication-method=socket"],
                   timeout=600)
        if not out["result"]:
            raise RuntimeError("mariadb-install-db failed: %s" % out["comment"])
    subprocess.run(["chown", "-R", "mysql:mysql", data], check=True, timeout=120)


def _primary_and_mounted(resource, res, force, steps):
    """DRBD Primary and the filesystem mounted (made on first use only); None when done,
    else the failure's comment."""
    st = drbd.Status.from_dict(status(resource))
    if st.role != "Primary":
        out = primary(resource, force=force)
        if not out["result"]:
            return "drbdadm primary: " + out["comment"]
        if _wait_role(resource, "Primary") is None:
            return "%s did not become Primary" % resource
        steps.append("Primary" + (" (forced)" if force else ""))
    if not _mounted(res["mount"]):
        fstype = res.get("fs", "ext4")
        if not _fs_type(res["device"]):
            out = _run(["mkfs." + fstype, "-q", res["device"]], timeout=600)
            if not out["result"]:
                return "mkfs: " + out["comment"]
            steps.append("made %s on %s" % (fstype, res["device"]))
        os.makedirs(res["mount"], exist_ok=True)
        out = _run(["mount", "-t", fstype, "-o", "noatime", res["device"], res["mount"]])
        if not out["result"]:
            return "mount: " + out["comment"]
        steps.append("mounted %s" % res["mount"])
    return None


def prepare(resource, force=False):
    """
    Ready a resource Pacemaker will run (``manager: pacemaker``) and leave it passive: DRBD
    Primary (``--force`` only when the caller's decision says so), the filesystem made (on
    first use only) and mounted, the service's data initialised; then demoted again, so
    Pacemaker finds every node Secondary and unmounted. Use ``salt-run hastack.drbd_up``,
    which does this once, before Pacemaker runs the resource.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.prepare mysql force=True
    """
    _, res = _res(resource)
    steps = []
    try:
        failed = _primary_and_mounted(resource, res, force, steps)
        if failed:
            return {"result": False, "comment": failed, "steps": steps}
        _prepare_service(res)
        steps.append("%s data ready" % (res.get("service") or "filesystem"))
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"result": False, "comment": str(exc), "steps": steps}
    out = demote(resource)
    steps += out.get("steps", [])
    return {"result": out["result"], "comment": "; ".join(steps) if out["result"]
            else out["comment"], "steps": steps}


def promote(resource, force=False):
    """
    Make this node the active one: DRBD Primary (``--force`` only when the caller's decision
    says so), the filesystem (made on first use only: a device with any signature is never
    formatted) mounted, the service started, the service's address added with a gratuitous
    ARP. Every step is skipped when already done. Use ``salt-run hastack.drbd_failover``,
    which decides whether this node may.

    CLI Example:

    .. code-block:: bash

        salt db2 ha_drbd.promote mysql
    """
    topo, res = _res(resource)
    steps = []
    try:
        failed = _primary_and_mounted(resource, res, force, steps)
        if failed:
            return {"result": False, "comment": failed, "steps": steps}
        # The address before the service: MariaDB binds it.
        if not _address_held(str(res["address"])):
            steps.append("address %s" % res["address"])
        _add_address(topo, str(res["address"]))
        if res.get("service"):
            _prepare_service(res)
            if _run(["systemctl", "is-active", res["service"]])["stdout"].strip() != "active":
                out = _systemctl("start", res["service"])
                if not out["result"]:
                    return {"result": False, "comment": "start %s: %s"
                            % (res["service"], out["comment"]), "steps": steps}
                steps.append("started %s" % res["service"])
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"result": False, "comment": str(exc), "steps": steps}
    return {"result": True, "comment": "; ".join(steps) or "already active", "steps": steps}


def demote(resource):
    """
    Make this node passive: the service stopped, its address removed, the filesystem
    unmounted, DRBD Secondary. Every step is skipped when already done.

    CLI Example:

    .. code-block:: bash

        salt db1 ha_drbd.demote mysql
    """
    _, res = _res(resource)
    steps = []
    if res.get("service"):
        if _run(["systemctl", "is-active", res["service"]])["stdout"].strip() in (
                "active", "activating", "failed"):
            out = _systemctl("stop", res["service"])
            if not out["result"]:
                return {"result": False, "comment": "stop %s: %s" % (res["service"],
                                                                    out["comment"])}
            steps.append("stopped %s" % res["service"])
    if _address_held(str(res["address"])):
        _del_address(str(res["address"]))
        steps.append("removed %s" % res["address"])
    if _mounted(res["mount"]):
        out = _run(["umount", res["mount"]])
        if not out["result"]:
            return {"result": False, "comment": "umount: " + out["comment"], "steps": steps}
        steps.append("unmounted %s" % res["mount"])
    st = drbd.Status.from_dict(status(resource))
    if st.role == "Primary":
        out = secondary(resource)
        if not out["result"]:
            return {"result": False, "comment": "drbdadm secondary: " + out["comment"],
                    "steps": steps}
        steps.append("Secondary")
    return {"result": True, "comment": "; ".join(steps) or "already passive", "steps": steps}


def active(resource):
    """
    Whether this node serves ``resource``: Primary, mounted, service running, address held.

    CLI Example:

    .. code-block:: bash

        salt -L db1,db2 ha_drbd.active mysql
    """
    _, res = _res(resource)
    st = drbd.Status.from_dict(status(resource))
    svc = (not res.get("service")
           or _run(["systemctl", "is-active", res["service"]])["stdout"].strip() == "active")
    return {"primary": st.role == "Primary", "mounted": _mounted(res["mount"]),
            "service": svc, "address": _address_held(str(res["address"]))}
