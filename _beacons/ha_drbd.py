"""
Watch this node's DRBD resources and tell the master when a Primary peer is lost.

Reads ``/proc/drbd`` (DRBD 8.4; no process is started, so it is cheap every second) or
``drbdsetup status --json`` (DRBD 9) each ``interval``.

Configuration (``salt/drbd/init.sls`` sets it with ``beacon.present``):

.. code-block:: yaml

    beacons:
      ha_drbd:
        - resources:
            mysql: {minor: 0, peers: [db1]}
        - interval: 1

Events, the contract ``reactor/drbd.sls`` codes against:

- tag ``salt/beacon/<minion>/ha_drbd/peer-lost``: this node was connected to a Primary peer
  and no longer is (:func:`hastack.drbd.peer_lost`). Payload
  ``{"resource": NAME, "peers": [names], "prev": Status, "now": Status}`` (Status as in
  ``ha_drbd.status``).
- tag ``salt/beacon/<minion>/ha_drbd/changed``: any other change of role, disk, connection
  or peer role, same payload (for logs and tests).
"""

import subprocess

try:
    from hastack import drbd

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_drbd"

LAST = {}


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_drbd beacon: the hastack package is not importable")
    return __virtualname__


def _config(config):
    merged = {}
    for item in config if isinstance(config, list) else [config]:
        if isinstance(item, dict):
            merged.update(item)
    return merged


def validate(config):
    resources = _config(config).get("resources")
    if not isinstance(resources, dict) or not resources:
        return False, "ha_drbd beacon: 'resources' must map resource names to {minor, peers}"
    for name, spec in resources.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("minor"), int):
            return False, "ha_drbd beacon: resource %s needs an integer 'minor'" % name
    return True, "valid"


def _read_status(name, minor):
    try:
        with open("/proc/drbd") as f:
            text = f.read()
    except OSError:
        return drbd.Status(resource=name)
    ver = drbd.parse_version(text)
    st = None
    if ver and ver[0] >= 9:
        res = subprocess.run(["drbdsetup", "status", name, "--json"], capture_output=True,
                             text=True, timeout=10)
        if res.returncode == 0:
            st = drbd.parse_status_json(res.stdout, name)
    else:
        st = drbd.parse_proc_drbd(text, minor)
    st = st or drbd.Status(resource=name)
    st.resource = name
    return st


def _key(st):
    return (st.role, st.disk, st.connection, st.peer_role, st.peer_disk)


def beacon(config):
    events = []
    for name, spec in _config(config)["resources"].items():
        now = _read_status(name, spec["minor"])
        prev = LAST.get(name)
        LAST[name] = now
        if prev is None or _key(prev) == _key(now):
            continue
        tag = "peer-lost" if drbd.peer_lost(prev, now) else "changed"
        events.append({"tag": tag, "resource": name, "peers": list(spec.get("peers", [])),
                       "prev": prev.as_dict(), "now": now.as_dict()})
    return events
