"""Corosync membership and Pacemaker resources from the pillar (``hastack:cluster``).

What the pillar says and what hastack makes of it:

- ``manager`` names who manages the active/passive pieces: ``hastack`` (the default:
  hastack's own reactor) or ``pacemaker``. Either way, the resources listed here are
  Pacemaker's, and only Pacemaker's.
- The members are ``nodes`` (default: the controllers, in pillar order). corosync.conf has
  them all in its nodelist, each with a node id that does not move when another node is
  added or removed (``nodeid``, default: the host part of its address, ``.11`` -> 11), over
  knet with encryption (``crypto_cipher aes256``, ``crypto_hash sha256``) and one authkey
  generated once (``hastack:secrets:corosync_authkey``, base64 of 256 random bytes;
  written decoded, mode 0400) and identical on every member.
- Token timing is stated, not left to defaults: ``token`` (ms) and ``token_coefficient``.
  corosync stretches the token by ``token_coefficient`` ms for every node past two, so
  ``token: 1000`` is really 1650 ms on three nodes with corosync's default coefficient of
  650; ``token_coefficient: 0`` makes the token what it says. The defaults are corosync's
  own (3000 and 650), written out so the effective value is visible.
- Quorum is votequorum; two members get ``two_node: 1`` (each may continue alone, which
  without fencing is a split brain waiting to happen).
- Fencing: ``fencing`` is either a list of fence devices (``name``, ``agent`` such as
  ``fence_ipmilan``, ``params``, and ``nodes``: the members it can fence), rendered as
  stonith primitives that never run on a node they fence, with ``stonith-enabled=true``;
  or exactly the string ``disabled-i-accept-split-brain``, and then ``stonith-enabled=false``.
  Nothing else is accepted, so a cluster runs without fencing only when the pillar says so
  in those words, and :func:`fencing_warning` is the sentence the state, the deploy and
  ``hastack.status`` print for it.
- Pacemaker properties: ``dc-deadtime`` (``dc_deadtime`` seconds, default 5: Pacemaker's
  own 20 s keeps a freshly started cluster from running anything that long), the fencing
  choice, and ``resource-stickiness`` (``stickiness``, default 100) so a resource that
  failed over stays where it is when its old node comes back.
- ``resources`` maps a resource name to one of: ``vip: ADDRESS`` (an IPaddr2 on the nodes'
  interface and subnet prefix), ``systemd: UNIT`` (Pacemaker drives the unit; the unit must
  exist on every member and must not be enabled in systemd), or ``agent: CLASS:PROVIDER:TYPE``
  with ``params``. Each may set ``monitor`` (seconds, default 5), ``timeouts`` (seconds
  per operation: start, stop, promote, demote, notify; Pacemaker's default is 20 s),
  ``nodes`` (the members it may run on: a ``-INFINITY`` location on every other member,
  for a unit that exists only on some nodes) and ``meta``. A VIP that Pacemaker manages is
  never also a keepalived VIP (``hastack:vips``).
- ``promotable: true`` on an ``ocf:`` agent that can promote (``ocf:linbit:drbd``) makes it a
  promotable clone, ``NAME-clone``: an instance on every member, one of them Promoted
  (``promoted-max=1``, ``notify=true``), monitored in both roles (``monitor`` seconds when
  Promoted, one more when Unpromoted: Pacemaker wants different intervals).
- ``constraints`` is a list of ``{colocate: [A, B]}`` (A runs where B runs) and
  ``{order: [A, B]}`` (A starts before B, and stops after it). A promotable resource in a
  constraint means its Promoted instance: ``{colocate: [fs, drbd]}`` puts ``fs`` where
  ``drbd`` is Promoted, ``{order: [drbd, fs]}`` starts ``fs`` after the promotion. That is
  the DRBD-backed MySQL of the classic HA guide::

      resources:
        mysql-drbd: {agent: "ocf:linbit:drbd", params: {drbd_resource: mysql},
                     promotable: true, monitor: 20}
        mysql-fs: {agent: "ocf:heartbeat:Filesystem", params: {device: /dev/drbd0,
                   directory: /var/lib/mysql, fstype: ext4}}
        mysql: {systemd: mariadb}
        mysql-vip: {vip: 192.0.2.50}
      constraints:
        - {colocate: [mysql-fs, mysql-drbd]}
        - {order: [mysql-drbd, mysql-fs]}
        - {colocate: [mysql, mysql-fs]}
        - {order: [mysql-fs, mysql]}
        - {colocate: [mysql-vip, mysql]}
        - {order: [mysql, mysql-vip]}

  A DRBD resource with ``manager: pacemaker`` under ``hastack:drbd`` brings that stack
  itself (:func:`hastack.drbd.pacemaker_resources`: ``NAME-drbd``, ``NAME-fs``, ``NAME-ip``,
  ``NAME-service``, the clone kept off members without the disk), so device, mount and
  address are written once, in the DRBD resource.

Everything Pacemaker gets is one crm batch (:func:`render_batch`), loaded with
``crm configure load update FILE``: commands issued one by one raced, and a resource started
before its colocation existed. The batch is loaded only when the live CIB differs from what
the pillar wants (:func:`cib_wanted`, :func:`parse_cib`, :func:`cib_diff`), so a second run
changes nothing. Resources in the CIB that the pillar does not name are reported, not
removed; an operator's run-time ``crm resource stop`` or ``unmanage`` (the ``target-role`` and
``is-managed`` meta attributes) is kept unless the pillar sets them (:func:`operator_meta`).

A changed corosync.conf is reloaded in place (``corosync-cfgtool -R``). A changed authkey is
not: knet reads it at start, so it takes effect only when corosync restarts, and members
with different keys do not hear each other. Change it only with the whole cluster stopped.

Pure: the topology and the tools' XML in, config text, models and diffs out.
"""

import base64
import binascii
import ipaddress
import os
import re
import xml.etree.ElementTree as ET

from hastack import drbd, topology

MANAGED = "Managed by hastack from the hastack pillar; local changes are overwritten."
COROSYNC_CONF = "/etc/corosync/corosync.conf"
AUTHKEY = "/etc/corosync/authkey"
AUTHKEY_SECRET = "corosync_authkey"
AUTHKEY_BYTES = 256
AUTHKEY_RANGE = (128, 4096)     # what corosync accepts for a knet key, in bytes

MANAGERS = ("hastack", "pacemaker")
NO_FENCING = "disabled-i-accept-split-brain"
DEFAULTS = {
    "manager": "hastack",
    "token": 3000,
    "token_coefficient": 650,
    "dc_deadtime": 5,
    "stickiness": 100,
}
DEFAULT_MONITOR = 5
_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
_AGENT = re.compile(r"^(ocf:[a-z0-9_-]+:[A-Za-z0-9_.-]+|(systemd|lsb|service):[A-Za-z0-9@_.-]+)$")
_UNIT = re.compile(r"^[A-Za-z0-9@_.:-]+$")
_PARAM = re.compile(r"^[A-Za-z0-9_.-]+$")
KINDS = ("vip", "systemd", "agent")
TIMED_OPS = ("start", "stop", "promote", "demote", "notify")


def _field(*parts):
    return ":".join(["hastack", "cluster"] + [str(p) for p in parts])


def settings(topo):
    """``hastack:cluster`` with defaults filled in, ``nodes`` included."""
    out = dict(DEFAULTS)
    out.update(topo.get("cluster") or {})
    if not out.get("nodes"):
        out["nodes"] = [n for n, v in (topo.get("nodes") or {}).items()
                        if "controller" in (v or {}).get("roles", [])]
    out.setdefault("fencing", None)
    out["resources"] = dict(out.get("resources") or {})
    out["constraints"] = list(out.get("constraints") or [])
    # The DRBD resources Pacemaker runs bring their own stack (hastack/drbd.py).
    stacks = drbd.pacemaker_resources(topo)
    out["resources"].update(stacks["resources"])
    out["constraints"] += stacks["constraints"]
    out["placement"] = dict(stacks["placement"])
    out["placement"].update({name: list(spec["nodes"]) for name, spec in out["resources"].items()
                             if isinstance(spec, dict) and spec.get("nodes")})
    return out


def members(topo):
    return list(settings(topo)["nodes"])


def fencing_enabled(topo):
    return settings(topo)["fencing"] != NO_FENCING


def fencing_warning(topo):
    """The loud sentence for a cluster without fencing, or None when it has fence devices."""
    if fencing_enabled(topo):
        return None
    return ("FENCING IS DISABLED (hastack:cluster:fencing: %s): Pacemaker assumes a node that "
            "stops answering is dead without making sure; a node cut off by the network may "
            "keep a VIP or a service that another node also starts (split brain). Add fence "
            "devices before this cluster holds data that matters." % NO_FENCING)


def node_id(topo, node):
    """corosync node id: ``hastack:nodes:NODE:nodeid``, else the host part of the address
    (stable when other nodes come and go)."""
    spec = topo["nodes"][node]
    if spec.get("nodeid"):
        return int(spec["nodeid"])
    subnet = ipaddress.IPv4Network(str(topo["network"]["subnet"]))
    return int(ipaddress.IPv4Address(str(spec["address"]))) - int(subnet.network_address)


# -- corosync --------------------------------------------------------------------------------

def render_corosync(topo):
    """corosync.conf: knet with crypto, the nodelist, token timing stated, votequorum. The
    same text on every member."""
    cfg = settings(topo)
    nodes = cfg["nodes"]
    lines = [
        "# " + MANAGED,
        "totem {",
        "    version: 2",
        "    cluster_name: %s" % topo.get("cluster_name", "hastack"),
        "    transport: knet",
        "    crypto_cipher: aes256",
        "    crypto_hash: sha256",
        "    # The token is %d ms plus %d ms per node past two: %d ms with %d nodes."
        % (cfg["token"], cfg["token_coefficient"], effective_token(topo), len(nodes)),
        "    token: %d" % cfg["token"],
        "    token_coefficient: %d" % cfg["token_coefficient"],
        "}",
        "",
        "nodelist {",
    ]
    for node in nodes:
        lines += [
            "    node {",
            "        name: %s" % node,
            "        nodeid: %d" % node_id(topo, node),
            "        ring0_addr: %s" % topo["nodes"][node]["address"],
            "    }",
        ]
    lines += ["}", "", "quorum {", "    provider: corosync_votequorum"]
    if len(nodes) == 2:
        lines.append("    two_node: 1")
    lines += [
        "}",
        "",
        "logging {",
        "    to_syslog: yes",
        "    # systemd drops corosync's stderr; `corosync -t` (the check) says why it refuses.",
        "    to_stderr: yes",
        "    to_logfile: no",
        "    timestamp: on",
        "}",
        "",
    ]
    return "\n".join(lines)


def effective_token(topo):
    """The token timeout corosync really uses, in ms."""
    cfg = settings(topo)
    return cfg["token"] + max(0, len(cfg["nodes"]) - 2) * cfg["token_coefficient"]


def authkey_bytes(topo):
    return base64.b64decode(topo["secrets"][AUTHKEY_SECRET])


def new_authkey():
    """A corosync authkey: 256 random bytes (what ``corosync-keygen`` makes), as base64."""
    return base64.b64encode(os.urandom(AUTHKEY_BYTES)).decode()


def authkey_errors(value):
    """Errors for ``hastack:secrets:corosync_authkey`` (empty when usable)."""
    field = "hastack:secrets:%s" % AUTHKEY_SECRET
    if not isinstance(value, str):
        return ["%s: missing; `hastack secrets --out FILE` generates it" % field]
    try:
        raw = base64.b64decode(value.encode(), validate=True)
    except (binascii.Error, ValueError):
        return ["%s: not base64; `hastack secrets` generates it" % field]
    if not AUTHKEY_RANGE[0] <= len(raw) <= AUTHKEY_RANGE[1]:
        return ["%s: %d bytes; corosync wants %d to %d (hastack secrets makes %d)"
                % (field, len(raw), AUTHKEY_RANGE[0], AUTHKEY_RANGE[1], AUTHKEY_BYTES)]
    if len(set(raw)) < 16:
        return ["%s: too repetitive to be a random key; generate it with `hastack secrets`"
                % field]
    return []


def files(topo, node):
    """The text files of a member: ``{path: (text, mode, check)}``. The authkey is binary
    and has its own writer (:func:`authkey_bytes`, mode 0400)."""
    return {COROSYNC_CONF: (render_corosync(topo), 0o644,
                            ["corosync", "-t", "-c", "{path}"])}


# -- Pacemaker: what the pillar wants, as a crm batch and as a model of the CIB --------------

def _duration_ms(value):
    """Pacemaker durations ("1s", "1000ms", "0", "2min", 5) -> milliseconds."""
    if value is None or value == "":
        return 0
    if isinstance(value, (int, float)):
        return int(value * 1000)
    m = re.match(r"^\s*(\d+)\s*(ms|msec|s|sec|m|min|h|hr)?\s*$", str(value))
    if not m:
        return str(value)
    unit = {"ms": 1, "msec": 1, None: 1000, "s": 1000, "sec": 1000, "m": 60000,
            "min": 60000, "h": 3600000, "hr": 3600000}[m.group(2)]
    return int(m.group(1)) * unit


def _seconds(ms):
    return "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms


def _primitive(topo, name, spec):
    """The model of one resource: class, provider, type, params, meta, ops."""
    net = topo["network"]
    monitor = _duration_ms(spec.get("monitor", DEFAULT_MONITOR))
    ops = {("monitor", monitor): 20000}
    if "vip" in spec:
        prefix = ipaddress.IPv4Network(str(net["subnet"])).prefixlen
        klass, provider, kind = "ocf", "heartbeat", "IPaddr2"
        params = {"ip": str(spec["vip"]), "cidr_netmask": str(prefix),
                  "nic": net.get("interface", "eth0")}
    elif "systemd" in spec:
        klass, provider, kind = "systemd", None, spec["systemd"]
        params = {}
        # systemd resources wait for the unit's start and stop; give them systemd's time.
        ops.update({("start", 0): 100000, ("stop", 0): 100000})
    else:
        parts = spec["agent"].split(":")
        klass, provider, kind = (parts if len(parts) == 3 else (parts[0], None, parts[1]))
        params = {}
    params.update({str(k): str(v) for k, v in (spec.get("params") or {}).items()})
    for op, seconds in (spec.get("timeouts") or {}).items():
        ops[(op, 0)] = int(seconds) * 1000
    roles = {}
    if spec.get("promotable"):
        ops[("monitor", monitor + 1000)] = 20000
        roles = {("monitor", monitor): "Promoted", ("monitor", monitor + 1000): "Unpromoted"}
    return {"class": klass, "provider": provider, "type": kind, "params": params,
            "meta": {str(k): str(v) for k, v in (spec.get("meta") or {}).items()},
            "ops": ops, "op_roles": roles}


# A promotable resource's clone: one instance per member, one Promoted.
CLONE_META = {"promotable": "true", "promoted-max": "1", "promoted-node-max": "1",
              "clone-node-max": "1", "notify": "true"}


def clone_id(name):
    return name + "-clone"


def _promotable(topo):
    return {name for name, spec in (settings(topo)["resources"] or {}).items()
            if isinstance(spec, dict) and spec.get("promotable")}


def _constraint_ends(topo, constraint):
    """A constraint's two ends as the CIB model spells them: a promotable resource is its
    clone's Promoted role (colocation) or its promotion (order, then ``X:start``)."""
    promotable = _promotable(topo)
    if "colocate" in constraint:
        return tuple(clone_id(n) + ":Promoted" if n in promotable else n
                     for n in constraint["colocate"])
    first, then = constraint["order"]
    if first not in promotable and then not in promotable:
        return first, then
    return tuple(clone_id(n) + ":promote" if n in promotable else n + ":start"
                 for n in (first, then))


def _fence_primitive(device):
    params = {str(k): str(v) for k, v in (device.get("params") or {}).items()}
    params["pcmk_host_list"] = " ".join(device["nodes"])
    return {"class": "stonith", "provider": None, "type": device["agent"], "params": params,
            "meta": {}, "ops": {("monitor", 60000): 20000}, "op_roles": {}}


def constraint_id(constraint):
    if "colocate" in constraint:
        a, b = constraint["colocate"]
        return "col-%s-with-%s" % (a, b)
    a, b = constraint["order"]
    return "ord-%s-then-%s" % (a, b)


def cib_wanted(topo):
    """What the pillar wants in the CIB, in the shape :func:`parse_cib` gives."""
    cfg = settings(topo)
    out = {
        "properties": {"stonith-enabled": "true" if fencing_enabled(topo) else "false",
                       "dc-deadtime": "%ds" % cfg["dc_deadtime"],
                       "cluster-name": topo.get("cluster_name", "hastack")},
        "rsc_defaults": {"resource-stickiness": str(cfg["stickiness"])},
        "primitives": {}, "clones": {}, "colocations": {}, "orders": {}, "locations": {},
    }
    if fencing_enabled(topo):
        for device in cfg["fencing"] or []:
            out["primitives"][device["name"]] = _fence_primitive(device)
            for node in device["nodes"]:
                # A device never runs on a node it fences (that node could not fence itself).
                out["locations"]["loc-%s-avoids-%s" % (device["name"], node)] = (
                    device["name"], node, "-INFINITY")
    for name, spec in (cfg["resources"] or {}).items():
        out["primitives"][name] = _primitive(topo, name, spec)
        if spec.get("promotable"):
            out["clones"][clone_id(name)] = {"resource": name, "meta": dict(CLONE_META)}
    promotable = _promotable(topo)
    for name, nodes in sorted(cfg["placement"].items()):
        # Kept off the members that cannot run it (a DRBD clone off nodes without its disk).
        rsc = clone_id(name) if name in promotable else name
        for node in cfg["nodes"]:
            if node not in nodes:
                out["locations"]["loc-%s-avoids-%s" % (rsc, node)] = (rsc, node, "-INFINITY")
    for c in cfg["constraints"] or []:
        a, b = _constraint_ends(topo, c)
        if "colocate" in c:
            out["colocations"][constraint_id(c)] = (a, b, "INFINITY")
        else:
            out["orders"][constraint_id(c)] = (a, b, "Mandatory")
    return out


def _crm_value(value):
    value = str(value)
    if re.match(r"^[A-Za-z0-9_./:@-]+$", value):
        return value
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def _crm_primitive(name, p):
    agent = ":".join(x for x in (p["class"], p["provider"], p["type"]) if x)
    words = ["primitive", name, agent]
    if p["params"]:
        words.append("params")
        words += ["%s=%s" % (k, _crm_value(v)) for k, v in sorted(p["params"].items())]
    if p["meta"]:
        words.append("meta")
        words += ["%s=%s" % (k, _crm_value(v)) for k, v in sorted(p["meta"].items())]
    for (op, interval), timeout in sorted(p["ops"].items()):
        words += ["op", op, "interval=%s" % _seconds(interval), "timeout=%s" % _seconds(timeout)]
        role = p.get("op_roles", {}).get((op, interval))
        if role:
            words.append("role=%s" % role)
    return " ".join(words)


# Meta attributes the operator sets at run time (``crm resource stop``, ``unmanage``): unless
# the pillar sets them, a deploy neither reports nor undoes them, and the batch carries the
# live value over (``load update`` replaces a primitive whole).
OPERATOR_META = ("target-role", "is-managed")


def operator_meta(topo, live):
    """``{resource: {meta: value}}``: the operator's run-time meta attributes in the live CIB
    model that the pillar does not set, to be kept by the batch."""
    want = cib_wanted(topo)["primitives"]
    out = {}
    for name, have in live["primitives"].items():
        if name not in want:
            continue
        keep = {k: v for k, v in have["meta"].items()
                if k in OPERATOR_META and k not in want[name]["meta"]}
        if keep:
            out[name] = keep
    return out


def render_batch(topo, keep=None):
    """The crm batch for ``crm configure load update FILE``: properties, resource defaults,
    fence devices, resources and their constraints, in one transaction. ``keep`` is
    :func:`operator_meta` of the live CIB."""
    want = cib_wanted(topo)
    for name, meta in (keep or {}).items():
        if name in want["primitives"]:
            want["primitives"][name]["meta"].update(meta)
    lines = ["# " + MANAGED]
    if not fencing_enabled(topo):
        lines.append("# " + fencing_warning(topo))
    lines.append("property cib-bootstrap-options: " + " ".join(
        "%s=%s" % (k, _crm_value(v)) for k, v in sorted(want["properties"].items())))
    lines.append("rsc_defaults rsc-options: " + " ".join(
        "%s=%s" % (k, _crm_value(v)) for k, v in sorted(want["rsc_defaults"].items())))
    for name, p in want["primitives"].items():
        lines.append(_crm_primitive(name, p))
    for cid, c in want["clones"].items():
        lines.append("clone %s %s meta %s" % (cid, c["resource"], " ".join(
            "%s=%s" % (k, _crm_value(v)) for k, v in sorted(c["meta"].items()))))
    for cid, (rsc, node, score) in want["locations"].items():
        lines.append("location %s %s %s: %s" % (cid, rsc, score.lower().replace("infinity",
                                                                                 "inf"), node))
    for cid, (rsc, other, score) in want["colocations"].items():
        lines.append("colocation %s inf: %s %s" % (cid, rsc, other))
    for cid, (first, then, kind) in want["orders"].items():
        lines.append("order %s %s: %s %s" % (cid, kind, first, then))
    return "\n".join(lines) + "\n"


# -- the live CIB ----------------------------------------------------------------------------

def _nvpairs(elem, tag):
    out = {}
    if elem is None:
        return out
    for block in elem.findall(tag):
        for nv in block.findall("nvpair"):
            out[nv.get("name")] = nv.get("value")
    return out


# Pacemaker 2.1 still accepts (and older tools write) the pre-2.1 role names.
_ROLES = {"Master": "Promoted", "Slave": "Unpromoted"}


def _role(role):
    return _ROLES.get(role, role) if role and role != "Started" else None


def _end(rsc, qualifier):
    return "%s:%s" % (rsc, qualifier) if qualifier else rsc


def parse_cib(text):
    """``cibadmin --query`` XML -> the model :func:`cib_wanted` gives (every property and
    primitive in the CIB, not only hastack's)."""
    root = ET.fromstring(text)
    conf = root.find("configuration")
    if conf is None:
        conf = ET.Element("configuration")
    props = {}
    crm_config = conf.find("crm_config")
    if crm_config is not None:
        props = _nvpairs(crm_config, "cluster_property_set")
    out = {"properties": props, "rsc_defaults": _nvpairs(conf.find("rsc_defaults"),
                                                          "meta_attributes"),
           "primitives": {}, "clones": {}, "colocations": {}, "orders": {}, "locations": {}}
    resources = conf.find("resources")
    for prim in (resources.iter("primitive") if resources is not None else []):
        ops, roles = {}, {}
        for op in prim.findall("operations/op"):
            key = (op.get("name"), _duration_ms(op.get("interval")))
            ops[key] = _duration_ms(op.get("timeout"))
            if op.get("role"):
                roles[key] = _role(op.get("role"))
        out["primitives"][prim.get("id")] = {
            "class": prim.get("class"), "provider": prim.get("provider"),
            "type": prim.get("type"), "params": _nvpairs(prim, "instance_attributes"),
            "meta": _nvpairs(prim, "meta_attributes"), "ops": ops, "op_roles": roles}
    for clone in (resources.iter("clone") if resources is not None else []):
        child = clone.find("primitive")
        out["clones"][clone.get("id")] = {
            "resource": child.get("id") if child is not None else None,
            "meta": _nvpairs(clone, "meta_attributes")}
    constraints = conf.find("constraints")
    for c in (constraints if constraints is not None else []):
        score = c.get("score", "")
        score = {"inf": "INFINITY", "+INFINITY": "INFINITY", "-inf": "-INFINITY"}.get(score,
                                                                                      score)
        if c.tag == "rsc_colocation":
            out["colocations"][c.get("id")] = (_end(c.get("rsc"), _role(c.get("rsc-role"))),
                                               _end(c.get("with-rsc"),
                                                    _role(c.get("with-rsc-role"))), score)
        elif c.tag == "rsc_order":
            first, then = c.get("first"), c.get("then")
            if c.get("first-action") or c.get("then-action"):
                # Pacemaker's defaults: first-action start, then-action first-action's.
                action = c.get("first-action") or "start"
                first, then = (_end(first, action),
                               _end(then, c.get("then-action") or action))
            out["orders"][c.get("id")] = (first, then, c.get("kind", "Mandatory"))
        elif c.tag == "rsc_location":
            out["locations"][c.get("id")] = (c.get("rsc"), c.get("node"), score)
    return out


def _mask(key, value):
    return "********" if re.search(r"passw|secret|key", key, re.I) else value


def cib_diff(wanted, live):
    """What differs between the pillar's CIB and the live one: ``(changes, strangers)``.
    ``changes`` are sentences, one per property, primitive or constraint that is missing or
    different (passwords masked); empty means the batch has nothing to do. ``strangers`` are
    the primitives and constraints in the CIB that the pillar does not name (reported only)."""
    changes = []
    for section, label in (("properties", "property"), ("rsc_defaults", "resource default")):
        for key, value in sorted(wanted[section].items()):
            have = live[section].get(key)
            if have != value:
                changes.append("%s %s: %s -> %s" % (label, key, "unset" if have is None
                                                     else have, value))
    for name, want in wanted["primitives"].items():
        have = live["primitives"].get(name)
        if have is None:
            agent = ":".join(x for x in (want["class"], want["provider"], want["type"]) if x)
            changes.append("resource %s (%s): missing" % (name, agent))
            continue
        for key in ("class", "provider", "type"):
            if have[key] != want[key]:
                changes.append("resource %s: %s %s -> %s" % (name, key, have[key], want[key]))
        for part in ("params", "meta"):
            for k in sorted(set(want[part]) | set(have[part])):
                if part == "meta" and k in OPERATOR_META and k not in want[part]:
                    continue    # the operator's (operator_meta)
                if want[part].get(k) != have[part].get(k):
                    changes.append("resource %s: %s %s %s -> %s" % (
                        name, part[:-1] if part == "params" else part, k,
                        _mask(k, have[part].get(k, "unset")),
                        _mask(k, want[part].get(k, "unset"))))
        for (op, interval), timeout in sorted(want["ops"].items()):
            got = have["ops"].get((op, interval))
            if got != timeout:
                changes.append("resource %s: op %s interval=%s %s" % (
                    name, op, _seconds(interval),
                    "missing" if got is None else "timeout %s -> %s" % (
                        _seconds(got) if isinstance(got, int) else got, _seconds(timeout))))
            role = want.get("op_roles", {}).get((op, interval))
            got_role = have.get("op_roles", {}).get((op, interval))
            if got is not None and role != got_role:
                changes.append("resource %s: op %s interval=%s role %s -> %s" % (
                    name, op, _seconds(interval), got_role or "any", role or "any"))
    for cid, want in sorted(wanted["clones"].items()):
        have = live.get("clones", {}).get(cid)
        if have is None:
            changes.append("clone %s of %s: missing" % (cid, want["resource"]))
            continue
        if have["resource"] != want["resource"]:
            changes.append("clone %s: resource %s -> %s" % (cid, have["resource"],
                                                            want["resource"]))
        for k, v in sorted(want["meta"].items()):
            if have["meta"].get(k) != v:
                changes.append("clone %s: meta %s %s -> %s" % (cid, k,
                                                               have["meta"].get(k, "unset"), v))
    for section, label in (("locations", "location"), ("colocations", "colocation"),
                           ("orders", "order")):
        for cid, want in sorted(wanted[section].items()):
            have = live[section].get(cid)
            if have != want:
                changes.append("%s %s: %s" % (label, cid, "missing" if have is None else
                                              "%s -> %s" % (" ".join(have), " ".join(want))))
    strangers = sorted(set(live["primitives"]) - set(wanted["primitives"]))
    for section in ("clones", "locations", "colocations", "orders"):
        strangers += sorted(set(live.get(section, {})) - set(wanted[section]))
    return changes, strangers


# The id prefix of the location constraint DRBD's crm-fence-peer handler adds while the peer
# is outdated (DRBD 9 utils); crm-unfence-peer removes it after the resync.
DRBD_FENCE_PREFIX = "drbd-fence-by-handler-"


def strangers_note(strangers):
    """The words a state adds for what the CIB holds and the pillar does not name: all
    left alone. DRBD's fence-peer constraint is named as such, since removing it by hand would
    let Pacemaker promote a peer that missed writes."""
    if not strangers:
        return ""
    fence = [s for s in strangers if s.startswith(DRBD_FENCE_PREFIX)]
    others = [s for s in strangers if s not in fence]
    parts = []
    if others:
        parts.append("not in the pillar, left alone: %s" % ", ".join(others))
    if fence:
        parts.append("DRBD's fence-peer constraint %s (its peer is outdated; "
                     "crm-unfence-peer.sh removes it once the peer has resynced)"
                     % ", ".join(fence))
    return "; " + "; ".join(parts)


# -- status ----------------------------------------------------------------------------------

def _bool(value):
    return str(value).lower() == "true"


def parse_crm_mon(text):
    """``crm_mon -1 -r --include=failcounts --output-as=xml`` -> the facts hastack uses::

        {"quorum", "dc", "nodes": {name: {"online", "standby", "maintenance", "unclean",
         "resources"}}, "resources": {id: {"agent", "role", "active", "failed", "managed",
         "nodes"}}, "failcounts": {id: {node: count}}, "stonith_enabled",
         "maintenance_mode"}
    """
    root = ET.fromstring(text)
    summary = root.find("summary")
    dc = summary.find("current_dc") if summary is not None else None
    options = summary.find("cluster_options") if summary is not None else None
    out = {
        "quorum": bool(dc is not None and _bool(dc.get("with_quorum"))),
        "dc": dc.get("name") if dc is not None and _bool(dc.get("present")) else None,
        "stonith_enabled": bool(options is not None and _bool(options.get("stonith-enabled"))),
        "maintenance_mode": bool(options is not None
                                 and _bool(options.get("maintenance-mode"))),
        "nodes": {}, "resources": {}, "failcounts": {},
    }
    for node in root.findall("nodes/node"):
        out["nodes"][node.get("name")] = {
            "online": _bool(node.get("online")), "standby": _bool(node.get("standby")),
            "maintenance": _bool(node.get("maintenance")),
            "unclean": _bool(node.get("unclean")),
            "resources": int(node.get("resources_running", "0"))}
    in_clones = set()
    for clone in root.iter("clone"):
        instances = clone.findall("resource")
        in_clones.update(id(r) for r in instances)
        if not instances:
            continue
        promotable = _bool(clone.get("multi_state"))
        roles = {}
        for res in instances:
            for n in res.findall("node"):
                roles[n.get("name")] = _role(res.get("role")) or "Started"
        promoted = sorted(n for n, r in roles.items() if r == "Promoted")
        if promotable:
            role = "Promoted" if promoted else ("Unpromoted" if roles else "Stopped")
        else:
            role = "Started" if roles else "Stopped"
        # Anonymous clones name their instances after the primitive; unique ones add ":N".
        name = instances[0].get("id").split(":")[0]
        out["resources"][name] = {
            "agent": instances[0].get("resource_agent"), "role": role,
            "active": bool(roles), "failed": any(_bool(r.get("failed")) for r in instances),
            "managed": all(_bool(r.get("managed", "true")) for r in instances),
            "nodes": promoted if promotable else sorted(roles),
            "clone": clone.get("id"), "instances": roles}
    for res in root.iter("resource"):
        if id(res) in in_clones:
            continue
        out["resources"][res.get("id")] = {
            "agent": res.get("resource_agent"), "role": res.get("role"),
            "active": _bool(res.get("active")), "failed": _bool(res.get("failed")),
            "managed": _bool(res.get("managed", "true")),
            "nodes": [n.get("name") for n in res.findall("node")]}
    for node in root.findall("node_history/node"):
        for hist in node.findall("resource_history"):
            count = hist.get("fail-count")
            if count and count != "0":
                count = 1000000 if count == "INFINITY" else int(count)
                out["failcounts"].setdefault(hist.get("id"), {})[node.get("name")] = count
    return out


def parse_quorumtool(text):
    """``corosync-quorumtool -s -p`` (machine-parsable) -> corosync's own view::

        {"quorate", "expected_votes", "total_votes", "quorum", "members": [name, ...]}
    """
    out = {"quorate": False, "expected_votes": None, "total_votes": None, "quorum": None,
           "members": []}
    in_members = False
    for line in text.splitlines():
        if not line.strip():
            continue
        if in_members:
            # "    Nodeid      Votes    Qdevice Name": the name is last, "(local)" after it.
            parts = [p for p in line.split() if p != "(local)"]
            if len(parts) >= 3 and parts[0].isdigit():
                out["members"].append(parts[-1])
            continue
        key, _, value = line.partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "quorate":
            out["quorate"] = value.lower() == "yes"
        elif key in ("expected votes", "total votes", "quorum"):
            m = re.match(r"\d+", value)
            out[key.replace(" ", "_")] = int(m.group()) if m else None
        elif key.startswith("nodeid") and "votes" in key:
            in_members = True
    return out


def forget_plan(topo, mon):
    """Nodes Pacemaker still lists that are no longer members and are offline (a member
    removed from the pillar, drained and stopped): to be removed from its node list."""
    wanted = set(members(topo))
    return sorted(n for n, facts in mon["nodes"].items()
                  if n not in wanted and not facts.get("online"))


def summary(topo, mon, quorumtool=None):
    """The cluster as the status wants it, from one node's :func:`parse_crm_mon` (and
    :func:`parse_quorumtool`): ``{"ok", "quorate", "online", "offline", "resources",
    "failcounts", "problems", "fencing"}``. ``ok`` needs quorum, every member online and
    every resource the pillar declares started; fail counts are problems too."""
    wanted = members(topo)
    online = [n for n in wanted if (mon["nodes"].get(n) or {}).get("online")]
    offline = [n for n in wanted if n not in online]
    problems = []
    quorate = mon["quorum"] and (quorumtool is None or quorumtool["quorate"])
    if not quorate:
        problems.append("cluster has no quorum")
    if offline:
        problems.append("cluster nodes offline: %s" % ", ".join(offline))
    strangers = sorted(set(mon["nodes"]) - set(wanted))
    if strangers:
        problems.append("cluster nodes not in hastack:cluster:nodes: %s" % ", ".join(strangers))
    declared = list(settings(topo)["resources"] or {})
    if fencing_enabled(topo):
        declared = [d["name"] for d in settings(topo)["fencing"] or []] + declared
    resources, promotable = {}, _promotable(topo)
    for name in declared:
        res = mon["resources"].get(name)
        if res is None:
            problems.append("cluster resource %s is not configured" % name)
            resources[name] = {"role": "absent", "nodes": []}
            continue
        resources[name] = {"role": res["role"], "nodes": list(res["nodes"])}
        if "instances" in res:
            resources[name]["instances"] = dict(res["instances"])
        if res["failed"]:
            problems.append("cluster resource %s failed" % name)
        elif not res["active"] or res["role"] not in ("Started", "Promoted", "Master"):
            problems.append("cluster resource %s is %s" % (name, res["role"] or "not running"))
        elif len(res["nodes"]) > 1:
            problems.append("cluster resource %s %s on %d nodes: %s"
                            % (name, "is Promoted" if name in promotable else "runs",
                               len(res["nodes"]), ", ".join(res["nodes"])))
    for name, counts in sorted(mon["failcounts"].items()):
        for node, count in sorted(counts.items()):
            problems.append("cluster resource %s has fail count %s on %s (`salt %s "
                            "ha_cluster.cleanup %s node=%s` once the cause is fixed)"
                            % (name, count, node, node, name, node))
    return {"ok": not problems, "quorate": bool(quorate), "online": online,
            "offline": offline, "dc": mon["dc"], "resources": resources,
            "failcounts": mon["failcounts"], "problems": problems,
            "fencing": fencing_enabled(topo), "warning": fencing_warning(topo)}


# -- validation ------------------------------------------------------------------------------

def _validate_resources(topo, cfg, nodes_addr, errors):
    resources = cfg.get("resources") or {}
    if not isinstance(resources, dict):
        errors.append("%s: must map a resource name to its settings" % _field("resources"))
        return {}
    try:
        subnet = ipaddress.IPv4Network(str((topo.get("network") or {}).get("subnet")))
    except ValueError:
        subnet = None
    keepalived = {str(v.get("address")): n for n, v in (topo.get("vips") or {}).items()
                  if isinstance(v, dict)}
    seen_vip = {}
    allowed = cfg.get("nodes") or members(topo)      # where a resource's `nodes` may point
    for name, spec in resources.items():
        field = _field("resources", name)
        if not isinstance(name, str) or not _ID.match(name):
            errors.append("%s: %r is not a Pacemaker id (a letter, then letters, digits, "
                          "'-', '_', '.')" % (field, name))
        if not isinstance(spec, dict):
            errors.append("%s: must be a mapping with one of %s" % (field, ", ".join(KINDS)))
            continue
        kinds = [k for k in KINDS if k in spec]
        if len(kinds) != 1:
            errors.append("%s: give exactly one of vip, systemd, agent (found %s)"
                          % (field, ", ".join(kinds) or "none"))
            continue
        kind = kinds[0]
        value = spec[kind]
        if kind == "vip":
            try:
                addr = ipaddress.IPv4Address(str(value))
            except ValueError:
                errors.append("%s:vip: %r is not an IPv4 address" % (field, value))
                addr = None
            if addr is not None:
                if subnet is not None and addr not in subnet:
                    errors.append("%s:vip: %s is outside the nodes' subnet %s "
                                  "(hastack:network:subnet)" % (field, addr, subnet))
                elif str(addr) in keepalived:
                    errors.append("%s:vip: %s is also VIP %s under hastack:vips, which "
                                  "keepalived moves; a VIP has one manager: drop one of them"
                                  % (field, addr, keepalived[str(addr)]))
                elif str(addr) in nodes_addr:
                    errors.append("%s:vip: %s is the address of node %s; a VIP needs its own"
                                  % (field, addr, nodes_addr[str(addr)]))
                elif str(addr) in seen_vip:
                    errors.append("%s:vip: %s is already resource %s"
                                  % (field, addr, seen_vip[str(addr)]))
                else:
                    seen_vip[str(addr)] = name
        elif kind == "systemd" and (not isinstance(value, str) or not _UNIT.match(value)):
            errors.append("%s:systemd: %r is not a systemd unit name" % (field, value))
        elif kind == "agent" and (not isinstance(value, str) or not _AGENT.match(value)):
            errors.append("%s:agent: %r is not a resource agent such as "
                          "ocf:heartbeat:IPaddr2 or systemd:UNIT" % (field, value))
        promotable = spec.get("promotable", False)
        if not isinstance(promotable, bool):
            errors.append("%s:promotable: %r is not true or false" % (field, promotable))
        elif promotable and not (kind == "agent" and str(value).startswith("ocf:")):
            errors.append("%s:promotable: only an ocf: agent that can promote (such as "
                          "ocf:linbit:drbd) can be promotable" % field)
        elif promotable and clone_id(name) in resources:
            errors.append("%s:promotable: its clone would be %s, already a resource"
                          % (field, clone_id(name)))
        for part in ("params", "meta"):
            value = spec.get(part, {})
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and _PARAM.match(k) and isinstance(v, (str, int, float))
                    and not isinstance(v, bool) for k, v in value.items()):
                errors.append("%s:%s: must map names to plain values" % (field, part))
        only = spec.get("nodes")
        if only is not None and (not isinstance(only, list) or not only or any(
                n not in allowed for n in only)):
            errors.append("%s:nodes: %r must list cluster members (hastack:cluster:nodes) "
                          "the resource may run on" % (field, only))
        timeouts = spec.get("timeouts", {})
        if not isinstance(timeouts, dict) or not all(
                op in TIMED_OPS and topology.is_int(v) and 1 <= v <= 3600
                for op, v in timeouts.items()):
            errors.append("%s:timeouts: must map operations (%s) to whole seconds (1-3600)"
                          % (field, ", ".join(TIMED_OPS)))
        monitor = spec.get("monitor", DEFAULT_MONITOR)
        if not isinstance(monitor, (int, float)) or isinstance(monitor, bool) or \
                not 1 <= monitor <= 3600 or int(monitor) != monitor:
            errors.append("%s:monitor: %r is not a whole number of seconds (1-3600)"
                          % (field, monitor))
    return resources


def _validate_constraints(cfg, names, errors):
    constraints = cfg.get("constraints") or []
    if not isinstance(constraints, list):
        errors.append("%s: must be a list of {colocate: [A, B]} and {order: [A, B]}"
                      % _field("constraints"))
        return
    for i, c in enumerate(constraints):
        field = _field("constraints", i)
        if not isinstance(c, dict) or len(c) != 1 or next(iter(c)) not in ("colocate",
                                                                            "order"):
            errors.append("%s: must be {colocate: [A, B]} (A runs where B runs) or "
                          "{order: [A, B]} (A starts first)" % field)
            continue
        kind, pair = next(iter(c.items()))
        if not isinstance(pair, list) or len(pair) != 2 or pair[0] == pair[1]:
            errors.append("%s:%s: must name two different resources" % (field, kind))
            continue
        for name in pair:
            if name not in names:
                errors.append("%s:%s: %r is not a resource under hastack:cluster:resources"
                              % (field, kind, name))


def _validate_fencing(cfg, members_, names, errors):
    fencing = cfg.get("fencing")
    field = _field("fencing")
    if fencing == NO_FENCING:
        return
    if fencing is None:
        errors.append("%s: missing; list the fence devices (name, agent, params, nodes), or "
                      "write `fencing: %s` to run without fencing and accept that a node cut "
                      "off by the network may keep running what another node starts"
                      % (field, NO_FENCING))
        return
    if isinstance(fencing, str) or not isinstance(fencing, list) or not fencing:
        errors.append("%s: %r is neither a list of fence devices nor the explicit opt-out "
                      "`%s`" % (field, fencing, NO_FENCING))
        return
    covered = set()
    for i, device in enumerate(fencing):
        dfield = "%s:%d" % (field, i)
        if not isinstance(device, dict):
            errors.append("%s: must be a mapping with name, agent, params, nodes" % dfield)
            continue
        name = device.get("name")
        if not isinstance(name, str) or not _ID.match(name):
            errors.append("%s:name: %r is not a Pacemaker id" % (dfield, name))
        elif name in names:
            errors.append("%s:name: %r is already a resource or fence device" % (dfield, name))
        else:
            names.add(name)
        agent = device.get("agent")
        if not isinstance(agent, str) or not re.match(r"^(fence_[a-z0-9_]+|external/[a-z0-9_-]+)$",
                                                      agent):
            errors.append("%s:agent: %r is not a fence agent such as fence_ipmilan"
                          % (dfield, agent))
        params = device.get("params", {})
        if not isinstance(params, dict) or not all(isinstance(k, str) and _PARAM.match(k)
                                                   for k in params):
            errors.append("%s:params: must map parameter names to values" % dfield)
        nodes = device.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            errors.append("%s:nodes: must list the cluster nodes this device fences" % dfield)
            continue
        for node in nodes:
            if node not in members_:
                errors.append("%s:nodes: %r is not in hastack:cluster:nodes" % (dfield, node))
            covered.add(node)
    for node in members_:
        if node not in covered:
            errors.append("%s: no fence device fences %s; every member needs one" % (field,
                                                                                      node))


def validate(topo, errors):
    """Check ``hastack:cluster`` (called by :func:`hastack.topology.validate`)."""
    cfg = topo.get("cluster")
    if cfg is None:
        return
    if not isinstance(cfg, dict):
        errors.append("%s: must be a mapping (manager, nodes, token, fencing, resources)"
                      % _field())
        return
    manager = cfg.get("manager", DEFAULTS["manager"])
    if manager not in MANAGERS:
        errors.append("%s: %r is not %s" % (_field("manager"), manager, " or ".join(MANAGERS)))
    nodes = topo.get("nodes") if isinstance(topo.get("nodes"), dict) else {}
    members_ = cfg.get("nodes")
    if members_ is None:
        members_ = [n for n, v in nodes.items()
                    if isinstance(v, dict) and "controller" in (v.get("roles") or [])]
        if len(members_) < 2:
            errors.append("%s: the topology has %d controllers; list at least two nodes here"
                          % (_field("nodes"), len(members_)))
    elif not isinstance(members_, list) or len(members_) < 2:
        errors.append("%s: must list at least two nodes" % _field("nodes"))
        members_ = []
    else:
        for i, node in enumerate(members_):
            if node not in nodes:
                errors.append("%s: node %r is not defined under hastack:nodes"
                              % (_field("nodes"), node))
            elif node in members_[:i]:
                errors.append("%s: node %r is listed twice" % (_field("nodes"), node))
    ids = {}
    subnet = (topo.get("network") or {}).get("subnet")
    for node in members_:
        spec = nodes.get(node)
        if not isinstance(spec, dict):
            continue
        try:
            nid = node_id({"nodes": nodes, "network": {"subnet": subnet}}, node)
        except (ValueError, TypeError):
            continue   # the address or subnet error is topology's to report
        if not 1 <= nid <= 2 ** 31 - 1:
            errors.append("hastack:nodes:%s:nodeid: %r is not a corosync node id (1 to 2^31-1)"
                          % (node, nid))
        elif nid in ids:
            errors.append("hastack:nodes:%s:nodeid: %d is already the corosync node id of %s"
                          % (node, nid, ids[nid]))
        else:
            ids[nid] = node
    for key, low, high in (("token", 100, 60000), ("token_coefficient", 0, 10000),
                           ("dc_deadtime", 1, 600), ("stickiness", 0, 1000000)):
        value = cfg.get(key, DEFAULTS[key])
        if not topology.is_int(value) or not low <= value <= high:
            errors.append("%s: %r is not a whole number from %d to %d%s"
                          % (_field(key), value, low, high,
                             " (ms)" if key.startswith("token") else
                             " (s)" if key == "dc_deadtime" else ""))
    nodes_addr = {str(v.get("address")): n for n, v in nodes.items() if isinstance(v, dict)}
    resources = _validate_resources(topo, cfg, nodes_addr, errors)
    names = set(resources) if isinstance(resources, dict) else set()
    names |= set(drbd.pacemaker_resources(topo)["resources"])
    _validate_constraints(cfg, names, errors)
    _validate_fencing(cfg, members_, set(names), errors)
    secrets = topo.get("secrets")
    if isinstance(secrets, dict):
        errors.extend(authkey_errors(secrets.get(AUTHKEY_SECRET)))
