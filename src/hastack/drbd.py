"""DRBD: replicated block storage under an active/passive service, and when a node may
become Primary.

A DRBD resource mirrors one block device on two nodes (protocol C: a write is acknowledged
only once it is on both disks). One node is Primary: it has the device open, the filesystem
mounted, the service (MariaDB here) running and the service's own address; the other is
Secondary and receives every write. hastack moves that role by these rules, after LINBIT's
drbd.ocf (a local UpToDate disk beats a merely Consistent one; never two Primaries) and
drbd-reactor's promoter (promote only where the data is good and nobody else is Primary).

Promotion (:func:`promotion`), in order:

1. A resource in split-brain is never promoted: the two disks hold different histories, and
   promoting either would make that permanent. It is reported with the documented recovery
   (DRBD user's guide, "Manual split brain recovery"): choose the node whose changes are
   lost (the victim) and run there ``drbdadm disconnect R; drbdadm secondary R;
   drbdadm connect --discard-my-data R``; then ``drbdadm connect R`` on the survivor if it
   is StandAlone.
2. A node that is already Primary stays so (nothing to do).
3. Never while another node is Primary (by its own report, or as the target's peer): DRBD
   without dual-primary refuses it anyway, and the service would be mounted twice. The old
   Primary is demoted first (``salt-run hastack.drbd_failover R to=NODE`` does both).
4. A node whose local disk is UpToDate is promoted, without ``--force``.
5. ``--force`` (promote a disk that is not UpToDate, making it the sync source) only:
   a) on first creation: both disks are Inconsistent with fresh metadata (current UUID
      "just created"), the nodes are connected and neither was ever Primary; then only the
      first node in the pillar's ``nodes`` is forced, and the initial sync copies it to the
      peer; or
   b) when the operator names the node and asks for it (``force=True``): the operator's word
      beats the rules, but never for a node without a disk (Diskless) or in split-brain.
6. Anything else is refused, naming the disk state and the command that would override it.

Automatic promotion after a node dies (:func:`auto_promotion`, run by the reactor when the
Secondary's beacon reports its peer connection lost). The survivor is promoted only if all of:

1. the survivor is not Primary already and nobody else is known Primary;
2. the master no longer sees the old Primary: for a whole watch window (``DEAD_AFTER``
   seconds, at least two looks) its minion does not answer ``test.ping`` AND its kernel
   does not answer TCP on its DRBD address or on the service address (a refused connection
   is an answer). A lost replication link alone is not a dead node, and neither is a minion
   too busy to answer one ping: promoting then would give two Primaries;
3. the survivor's DRBD no longer sees its peer either (not Connected): two witnesses, the
   master and the replication link, agree the old Primary is gone;
4. no split-brain;
5. the survivor's disk is UpToDate: an Outdated, Inconsistent or Diskless survivor would serve
   stale or torn data, so it is refused and the operator decides (``drbd_failover R to=NODE
   force=True``).

Pacemaker instead (``manager: pacemaker`` on the resource, :func:`pacemaker_resources`): the
classic HA guide's stack, a promotable ``ocf:linbit:drbd`` clone with the filesystem, the
address and the service following its Promoted instance, is generated from the resource
itself into ``hastack:cluster``; LINBIT's own agent then applies its rules, DRBD's
``fencing resource-only`` with ``crm-fence-peer.sh`` keeps a node that missed writes from
being promoted, and hastack's boot unit, beacon, reactor and runner moves stay away.

Everything here is pure: status text in, facts out; topology in, config text out.
``_modules/ha_drbd.py`` runs the tools on a node, ``_runners/hastack.py`` (``drbd_failover``,
``drbd_autopromote``) decides across the nodes, the beacon ``_beacons/ha_drbd.py`` watches.
"""

import ipaddress
import json
import re
from dataclasses import asdict, dataclass

# Connection states (DRBD 8.4's ``cs:`` mixes connection and replication states; DRBD 9
# splits them). In 8.4 every cs: from Connected on means the link is up.
REPLICATING = {"Connected", "StartingSyncS", "StartingSyncT", "WFBitMapS", "WFBitMapT",
               "WFSyncUUID", "SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT",
               "VerifyS", "VerifyT", "Ahead", "Behind", "Established"}
SYNCING = {"SyncSource", "SyncTarget", "PausedSyncS", "PausedSyncT", "StartingSyncS",
           "StartingSyncT", "WFBitMapS", "WFBitMapT", "WFSyncUUID"}
UUID_JUST_CREATED = 4      # the current UUID of metadata fresh from create-md

FILESYSTEMS = ("ext4", "xfs")
MANAGERS = ("hastack", "pacemaker")
# LINBIT's Pacemaker integration in drbd-utils: a Primary that loses its peer forbids the
# peer's promotion in the CIB until it has resynced.
CRM_FENCE_PEER = "/usr/lib/drbd/crm-fence-peer.sh"
CRM_UNFENCE_PEER = "/usr/lib/drbd/crm-unfence-peer.sh"
SERVICES = ("mariadb",)
# Seconds, except ping-timeout and timeout (tenths). DRBD wants timeout < ping-int and
# connect-int; a dead peer is noticed within about ping-int + ping-timeout.
DEFAULT_NET = {"ping-int": 3, "ping-timeout": 10, "timeout": 20, "connect-int": 3}
SPLIT_BRAIN_HANDLER = "/usr/local/lib/hastack/drbd-split-brain"
SPLIT_BRAIN_FLAGS = "/var/lib/hastack/drbd"

_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DEVICE = re.compile(r"^/dev/drbd(\d+)$")


@dataclass
class Status:
    """One node's view of one resource. Unknown values are "" (or None for numbers).

    ``connection`` is ``Connected`` when the replication link is up (whatever the sync
    state), else DRBD's word for why not (``StandAlone``, ``WFConnection``/``Connecting``...);
    ``replication`` is ``Established`` when in sync, a sync state while syncing, else ``Off``.
    """
    resource: str
    role: str = "Unconfigured"
    disk: str = ""
    connection: str = "StandAlone"
    replication: str = "Off"
    peer_role: str = "Unknown"
    peer_disk: str = "DUnknown"
    sync_percent: float = None
    out_of_sync_kib: int = None
    minor: int = None
    current_uuid: int = None
    split_brain: bool = False

    @property
    def configured(self):
        return self.role != "Unconfigured"

    @property
    def connected(self):
        return self.connection == "Connected"

    @property
    def uptodate(self):
        return self.disk == "UpToDate"

    @property
    def syncing(self):
        return self.replication in SYNCING

    def as_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Decision:
    """``action``: ``promote`` (``force`` says whether ``--force`` is needed), ``already``
    (nothing to do), ``refuse`` or ``wait``."""
    action: str
    node: str = ""
    reason: str = ""
    force: bool = False

    @property
    def ok(self):
        return self.action in ("promote", "already")

    def as_dict(self):
        return asdict(self)


def describe(status):
    """One line on a node's view of a resource, for the runner's log."""
    if status is None:
        return "no answer"
    if not status.configured:
        return "resource not up"
    text = "%s %s, peer %s %s, %s" % (status.role, status.disk, status.peer_role,
                                      status.peer_disk, status.connection)
    if status.syncing:
        text += " %s %s%%" % (status.replication, status.sync_percent)
    if status.split_brain:
        text += ", SPLIT-BRAIN"
    return text


# -- parsing -----------------------------------------------------------------------------------

def _split_cs(cs):
    """8.4's cs: -> (connection, replication)."""
    if cs in REPLICATING:
        return "Connected", ("Established" if cs == "Connected" else cs)
    return cs, "Off"


def parse_proc_drbd(text, minor):
    """DRBD 8.4's ``/proc/drbd`` -> a :class:`Status` for device ``minor`` (resource name
    unknown here: ""), or None when the minor is not listed (resource down)::

         0: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
            ns:... oos:53248
            [===>................] sync'ed: 22.4% (53248/65532)K
    """
    lines = text.splitlines()
    head = re.compile(r"^\s*%d:\s+(.*)$" % int(minor))
    for i, line in enumerate(lines):
        m = head.match(line)
        if not m:
            continue
        fields = dict(f.split(":", 1) for f in m.group(1).split() if ":" in f)
        if fields.get("cs") == "Unconfigured" or "cs" not in fields:
            return None
        st = Status(resource="", minor=int(minor))
        st.connection, st.replication = _split_cs(fields["cs"])
        st.role, _, st.peer_role = fields.get("ro", "Unknown/Unknown").partition("/")
        st.disk, _, st.peer_disk = fields.get("ds", "/").partition("/")
        for more in lines[i + 1:]:
            if re.match(r"^\s*\d+:\s", more):
                break
            oos = re.search(r"\boos:(\d+)", more)
            if oos:
                st.out_of_sync_kib = int(oos.group(1))
            pct = re.search(r"sync'ed:\s*([\d.]+)%", more)
            if pct:
                st.sync_percent = float(pct.group(1))
        return st
    return None


def _kv(words):
    return dict(w.split(":", 1) for w in words if ":" in w)


def parse_status_text(text, resource):
    """``drbdadm status R`` / ``drbdsetup status R --verbose --statistics`` (DRBD 8.4 through
    drbd-utils 9, and DRBD 9: the same layout) -> :class:`Status`, or None when the resource
    is not listed. Indentation carries the structure::

        mysql role:Primary suspended:no             the resource (column 0)
            write-ordering:flush
          volume:0 minor:0 disk:UpToDate            a device: first word has a colon
              size:131032 read:93911 ...
          peer connection:Connected role:Secondary  a peer: "peer" (8.4) or its host name (9)
            volume:0 replication:SyncSource peer-disk:Inconsistent done:50.00
                received:0 sent:102813 out-of-sync:0 ...

    The short form omits ``connection:`` on a connected peer, and ``volume:``.
    """
    st = None
    section = None
    for raw in text.splitlines():
        words = raw.split()
        if not words:
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        kv = _kv(words)
        if indent == 0:
            if st is not None:
                break
            if words[0] == resource:
                st = Status(resource=resource, role=kv.get("role", "Unknown"))
            continue
        if st is None:
            continue
        if indent == 2 and ":" in words[0]:
            section = "device"
            st.disk = kv.get("disk", st.disk)
            if "minor" in kv:
                st.minor = int(kv["minor"])
        elif indent == 2:
            section = "peer"
            st.peer_role = kv.get("role", "Unknown")
            st.connection = kv.get("connection", "Connected")
        elif section == "peer":
            if "replication" in kv:
                st.replication = kv["replication"]
            if "peer-disk" in kv:
                st.peer_disk = kv["peer-disk"]
            if "done" in kv:
                st.sync_percent = float(kv["done"])
            if "out-of-sync" in kv:
                st.out_of_sync_kib = int(kv["out-of-sync"])
    if st is not None and st.connection == "WFConnection":
        st.peer_role = "Unknown"
    if st is not None and not st.connected:
        st.replication = "Off"
    return st


def parse_status_json(text, resource):
    """DRBD 9's ``drbdsetup status R --json`` (a list of resources) -> :class:`Status` for
    ``resource`` (first volume, first connection), or None when it is not listed."""
    for res in json.loads(text or "[]"):
        if res.get("name") != resource:
            continue
        st = Status(resource=resource, role=res.get("role", "Unknown"))
        devices = res.get("devices") or []
        if devices:
            st.disk = devices[0].get("disk-state", "")
            st.minor = devices[0].get("minor")
        conns = res.get("connections") or []
        if conns:
            conn = conns[0]
            st.connection = conn.get("connection-state", "StandAlone")
            st.peer_role = conn.get("peer-role", "Unknown")
            peers = conn.get("peer_devices") or []
            if peers:
                st.replication = peers[0].get("replication-state", "Off")
                st.peer_disk = peers[0].get("peer-disk-state", "DUnknown")
                st.out_of_sync_kib = peers[0].get("out-of-sync")
                if st.replication in SYNCING and "percent-in-sync" in peers[0]:
                    st.sync_percent = float(peers[0]["percent-in-sync"])
        if not st.connected:
            st.replication = "Off"
        return st
    return None


def parse_version(proc_text):
    """``(major, minor)`` of the loaded DRBD module from ``/proc/drbd``'s first line, or None."""
    m = re.search(r"version:\s*(\d+)\.(\d+)", proc_text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def parse_gi(text):
    """The current data-generation UUID from ``drbdadm get-gi R`` (hex, the first field of
    ``UUID:UUID:UUID:UUID:flags...``), as an int, or None."""
    first = (text or "").strip().split(":", 1)[0]
    try:
        return int(first, 16)
    except ValueError:
        return None


# -- decisions --------------------------------------------------------------------------------

def split_brain_recovery(resource):
    """The documented manual recovery, as the operator's next commands."""
    return ("choose the node whose changes are lost (the victim) and run there: drbdadm "
            "disconnect {r}; drbdadm secondary {r}; drbdadm connect --discard-my-data {r}; "
            "then on the other node, if it is StandAlone: drbdadm connect {r} (DRBD user's "
            "guide, 'Manual split brain recovery')".format(r=resource))


def first_creation(statuses, nodes):
    """True when the resource was just created: every node that reported (at least one) is
    connected, Secondary with a Secondary peer, both disks Inconsistent, and its own
    metadata fresh. A connected node sees its peer's disk: Inconsistent there while no sync
    runs means the peer has no data either, so one node's view is enough (the state on the
    first node has only its own)."""
    reported = [statuses[n] for n in nodes if statuses.get(n) is not None]
    if not reported:
        return False
    return all(st.connected and st.role == "Secondary" and st.peer_role == "Secondary"
               and st.disk == "Inconsistent" and st.peer_disk == "Inconsistent"
               and st.current_uuid in (0, UUID_JUST_CREATED) for st in reported)


def promotion(resource, nodes, target, statuses, force=False):
    """May ``target`` become Primary for ``resource``? ``nodes`` in pillar order, ``statuses``
    ``{node: Status}`` (a node absent or None did not answer). See the module doc."""
    if target not in nodes:
        return Decision("refuse", target, "node %s is not a node of DRBD resource %s (%s)"
                        % (target, resource, ", ".join(nodes)))
    mine = statuses.get(target)
    if mine is None:
        return Decision("wait", target, "node %s did not report the state of %s"
                        % (target, resource))
    if not mine.configured:
        return Decision("refuse", target, "resource %s is not up on %s: salt %s state.apply "
                        "drbd" % (resource, target, target))
    if any(st is not None and st.split_brain for st in statuses.values()):
        return Decision("refuse", target, "split-brain on %s: the nodes' data diverged and "
                        "DRBD disconnected them; %s" % (resource, split_brain_recovery(resource)))
    if mine.role == "Primary":
        return Decision("already", target, "%s is already Primary on %s" % (resource, target))
    others = [n for n in nodes if n != target and statuses.get(n) is not None
              and statuses[n].role == "Primary"]
    if mine.peer_role == "Primary" or others:
        who = others[0] if others else "its peer"
        return Decision("refuse", target, "%s is Primary on %s: demote it first (salt-run "
                        "hastack.drbd_failover %s to=%s)" % (resource, who, resource, target))
    if mine.uptodate:
        return Decision("promote", target, "%s's disk is UpToDate" % target)
    if target == nodes[0] and first_creation(statuses, nodes):
        return Decision("promote", target, "first creation of %s: %s becomes the initial sync "
                        "source" % (resource, target), force=True)
    if force:
        if mine.disk in ("Diskless", ""):
            return Decision("refuse", target, "%s has no disk for %s (%s): nothing to promote"
                            % (target, resource, mine.disk or "unknown"))
        return Decision("promote", target, "the operator chose %s (disk %s)"
                        % (target, mine.disk), force=True)
    detail = mine.disk
    if mine.syncing and mine.sync_percent is not None:
        detail += ", %s %.1f%%" % (mine.replication, mine.sync_percent)
    return Decision("refuse", target, "%s's disk is %s, not UpToDate: wait for the sync, or, "
                    "knowing it may lose data, salt-run hastack.drbd_failover %s to=%s "
                    "force=True" % (target, detail, resource, target))


# The old Primary counts as gone only after this long without any sign of life (rule 2).
DEAD_AFTER = 15


def life_probes(topo, resource):
    """``[(what, address, port)]``: where the master knocks for a sign of the old Primary's
    life besides ``test.ping``: each node's DRBD address and the service address, on the
    resource's port. Any TCP answer, a refusal included, means a live kernel there."""
    res = resources(topo)[resource]
    port = int(res.get("port", 7789))
    nodes = (topo or {}).get("nodes") or {}
    out = [(node, str(nodes[node]["address"]), port) for node in res.get("nodes", [])
           if node in nodes]
    if res.get("address"):
        out.append(("service address", str(res["address"]), port))
    return out


def auto_promotion(resource, survivor, status, old_primary, master_sees_old_primary):
    """Should the reactor promote ``survivor`` after ``old_primary``'s node seemed to die?
    ``status`` is the survivor's :class:`Status` (None: it did not answer);
    ``master_sees_old_primary`` is the signs of life the master found (sentences; empty or
    False: none in the whole window). See the module doc for the rules."""
    if status is None or not status.configured:
        return Decision("refuse", survivor, "%s did not report resource %s"
                        % (survivor, resource))
    if status.role == "Primary":
        return Decision("already", survivor, "%s is already Primary on %s"
                        % (resource, survivor))
    if master_sees_old_primary:
        signs = ("" if master_sees_old_primary is True
                 else " (%s)" % "; ".join(master_sees_old_primary))
        return Decision("refuse", survivor, "the master still sees %s%s: a lost replication "
                        "link is not a dead node; not promoting %s"
                        % (old_primary, signs, survivor))
    if status.connected or status.peer_role == "Primary":
        return Decision("refuse", survivor, "%s still has a replication link to its peer (%s, "
                        "peer %s): not promoting" % (survivor, status.connection,
                                                     status.peer_role))
    if status.split_brain:
        return Decision("refuse", survivor, "split-brain on %s; %s"
                        % (resource, split_brain_recovery(resource)))
    if not status.uptodate:
        return Decision("refuse", survivor, "%s's disk is %s, not UpToDate: promoting it would "
                        "serve stale data; bring %s back, or, knowing it may lose data, "
                        "salt-run hastack.drbd_failover %s to=%s force=True"
                        % (survivor, status.disk or "unknown", old_primary, resource, survivor))
    return Decision("promote", survivor, "the master no longer sees %s, %s's link to it is %s "
                    "and its disk is UpToDate" % (old_primary, survivor, status.connection))


def peer_lost(prev, now):
    """For the beacon: did this node just lose a peer that was Primary? ``prev``/``now`` are
    :class:`Status` (or None before the first reading)."""
    if prev is None or now is None:
        return False
    return prev.connected and prev.peer_role == "Primary" and not now.connected


# -- the topology --------------------------------------------------------------------------

def resources(topo):
    return ((topo or {}).get("drbd") or {}).get("resources") or {}


def pacemaker_managed(topo):
    """Names of the resources Pacemaker runs (``manager: pacemaker``), sorted."""
    section = (topo or {}).get("drbd")
    found = section.get("resources") if isinstance(section, dict) else None
    return sorted(name for name, res in (found if isinstance(found, dict) else {}).items()
                  if isinstance(res, dict) and res.get("manager") == "pacemaker")


def pacemaker_ids(name, res):
    """The Pacemaker ids of resource ``name``'s stack, bottom up: DRBD (a promotable clone,
    ``NAME-drbd-clone``), filesystem, address, and the service when there is one."""
    ids = ["%s-%s" % (name, part) for part in ("drbd", "fs", "ip")]
    return ids + (["%s-service" % name] if res.get("service") else [])


def pacemaker_refusal(name, res):
    """Why hastack does not move resource ``name`` itself, or None when it does."""
    if not isinstance(res, dict) or res.get("manager") != "pacemaker":
        return None
    clone = pacemaker_ids(name, res)[0] + "-clone"
    return ("%s is Pacemaker's (hastack:drbd:resources:%s:manager: pacemaker): hastack does "
            "not promote or move it; Pacemaker does, and an operator moves it with "
            "`crm_resource --move --promoted -r %s -N NODE` (then `crm_resource --clear -r %s`)"
            % (name, name, clone, clone))


def pacemaker_resources(topo):
    """What Pacemaker runs for the resources it manages, in ``hastack:cluster``'s terms:
    ``{"resources": {id: spec}, "constraints": [...], "placement": {id: [nodes]}}``.

    Each resource is the classic stack: ``ocf:linbit:drbd`` as a promotable clone (LINBIT's
    agent decides where to promote from the disk states), ``ocf:heartbeat:Filesystem`` on
    the device, ``ocf:heartbeat:IPaddr2`` with the service's address (before the service:
    MariaDB binds it), and the service as a ``systemd:`` resource; each one colocated with
    and started after the one below it (the filesystem after the promotion). ``placement``
    keeps the clone on the resource's two nodes when the cluster has more members. The
    timeouts are the agents' own advice (drbd: start 240 s, promote and demote 90 s)."""
    out = {"resources": {}, "constraints": [], "placement": {}}
    try:
        prefix = ipaddress.IPv4Network(str(topo["network"]["subnet"])).prefixlen
    except (KeyError, TypeError, ValueError):
        prefix = 32
    for name in pacemaker_managed(topo):
        res = resources(topo)[name]
        ids = pacemaker_ids(name, res)
        specs = [
            {"agent": "ocf:linbit:drbd", "params": {"drbd_resource": name},
             "promotable": True, "monitor": 10,
             "timeouts": {"start": 240, "stop": 100, "promote": 90, "demote": 90}},
            {"agent": "ocf:heartbeat:Filesystem", "monitor": 10,
             "params": {"device": res.get("device"), "directory": res.get("mount"),
                        "fstype": res.get("fs", "ext4"), "options": "noatime"},
             "timeouts": {"start": 60, "stop": 60}},
            {"agent": "ocf:heartbeat:IPaddr2", "monitor": 5,
             "params": {"ip": str(res.get("address")), "cidr_netmask": prefix}},
        ]
        if res.get("service"):
            specs.append({"systemd": res["service"], "monitor": 5})
        out["resources"].update(zip(ids, specs))
        for below, above in zip(ids, ids[1:]):
            out["constraints"] += [{"colocate": [above, below]}, {"order": [below, above]}]
        out["placement"][ids[0]] = list(res.get("nodes") or [])
    return out


def minor(device):
    m = _DEVICE.match(str(device))
    return int(m.group(1)) if m else None


def resource_of_node(topo, node):
    """Names of the resources ``node`` takes part in, sorted."""
    return sorted(name for name, res in resources(topo).items() if node in res.get("nodes", []))


def render_resource(topo, name, version=(8, 4)):
    """``/etc/drbd.d/<name>.res`` for resource ``name``. DRBD 9 wants a node-id per host."""
    res = resources(topo)[name]
    net = dict(DEFAULT_NET, **(res.get("net") or {}))
    lines = [
        "# Managed by hastack from hastack:drbd:resources:%s; local changes are overwritten."
        % name,
        "resource %s {" % name,
        "  net {",
        "    # A write is acknowledged once it is on both disks.",
        "    protocol C;",
    ]
    lines += ["    %s %s;" % (k, v) for k, v in sorted(net.items())]
    pacemaker = res.get("manager") == "pacemaker"
    lines += [
        "    # Never resolve a split-brain by throwing data away automatically: disconnect,",
        "    # report (handler below) and let the operator choose.",
        "    after-sb-0pri disconnect;",
        "    after-sb-1pri disconnect;",
        "    after-sb-2pri disconnect;",
        "  }",
        "  disk {",
        "    on-io-error detach;",
    ]
    if pacemaker:
        lines += ["    # Pacemaker promotes: a Primary that loses its peer forbids the peer's",
                  "    # promotion (crm-fence-peer) until the peer has resynced.",
                  "    fencing resource-only;"]
    lines += [
        "  }",
        "  handlers {",
        '    split-brain "%s";' % SPLIT_BRAIN_HANDLER,
    ]
    if pacemaker:
        lines += ['    fence-peer "%s";' % CRM_FENCE_PEER,
                  '    after-resync-target "%s";' % CRM_UNFENCE_PEER]
    lines += ["  }"]
    for i, node in enumerate(res["nodes"]):
        addr = str(topo["nodes"][node]["address"])
        lines += ["  on %s {" % node]
        if version[0] >= 9:
            lines.append("    node-id %d;" % i)
        lines += ["    device %s minor %d;" % (res["device"], minor(res["device"])),
                  "    disk %s;" % res["disk"],
                  "    address %s:%d;" % (addr, res["port"]),
                  "    meta-disk internal;",
                  "  }"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def service_config(res):
    """The config of the service on top of the resource, ``(path, text)``, or None.
    MariaDB: its data on the DRBD filesystem, bound to the resource's own address."""
    if res.get("service") != "mariadb":
        return None
    return ("/etc/mysql/mariadb.conf.d/60-hastack-drbd.cnf", "\n".join([
        "# Managed by hastack from the hastack:drbd pillar; local changes are overwritten.",
        "[mysqld]",
        "datadir = %s" % datadir(res),
        "bind-address = %s" % res["address"],
        "port = %d" % res.get("service_port", 3306),
        "# Every commit on the (replicated) disk before it is acknowledged.",
        "innodb_flush_log_at_trx_commit = 1",
        "sync_binlog = 1",
        "innodb_log_file_size = 16M",
        "innodb_buffer_pool_size = 64M",
    ]) + "\n")


def datadir(res):
    return res["mount"].rstrip("/") + "/mysql"


def validate(topo, errors):
    """Check ``hastack:drbd``; append messages naming the field (see topology.validate)."""
    section = topo.get("drbd")
    if section is None:
        return
    if not isinstance(section, dict) or not isinstance(section.get("resources"), dict) \
            or not section["resources"]:
        errors.append("hastack:drbd:resources: must map a resource name to its settings")
        return
    nodes = topo.get("nodes") or {}
    try:
        subnet = ipaddress.IPv4Network(str((topo.get("network") or {}).get("subnet")))
    except ValueError:
        subnet = None
    taken = {str(n.get("address")): "node %s" % k for k, n in nodes.items()
             if isinstance(n, dict)}
    for k, v in (topo.get("vips") or {}).items():
        if isinstance(v, dict):
            taken[str(v.get("address"))] = "VIP %s" % k
    devices, mounts, ports = {}, {}, {}
    for name, res in section["resources"].items():
        field = "hastack:drbd:resources:%s" % name
        if not isinstance(name, str) or not _HOSTNAME.match(name):
            errors.append("%s: %r is not a valid resource name (lowercase letters, digits, "
                          "'-')" % (field, name))
        if not isinstance(res, dict):
            errors.append("%s: must be a mapping with nodes, disk, device, port, mount, fs, "
                          "service and address" % field)
            continue
        members = res.get("nodes")
        if not isinstance(members, list) or len(members) != 2:
            errors.append("%s:nodes: must list exactly two nodes (DRBD 8.4 mirrors between "
                          "two)" % field)
            members = []
        elif members[0] == members[1]:
            errors.append("%s:nodes: node %r is listed twice" % (field, members[0]))
        for node in members:
            if node not in nodes:
                errors.append("%s:nodes: node %r is not defined under hastack:nodes"
                              % (field, node))
            elif "storage" not in (nodes[node] or {}).get("roles", []):
                errors.append("%s:nodes: node %r lacks the storage role" % (field, node))
        disk = res.get("disk")
        if not isinstance(disk, str) or not disk.startswith("/dev/"):
            errors.append("%s:disk: %r is not a block device path (/dev/...)" % (field, disk))
        device = res.get("device")
        if minor(device) is None:
            errors.append("%s:device: %r is not a DRBD device such as /dev/drbd0"
                          % (field, device))
        elif device in devices:
            errors.append("%s:device: %s is already the device of resource %s"
                          % (field, device, devices[device]))
        else:
            devices[device] = name
        port = res.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            errors.append("%s:port: %r is not a TCP port (1-65535)" % (field, port))
        elif port in ports:
            errors.append("%s:port: %d is already the port of resource %s"
                          % (field, port, ports[port]))
        else:
            ports[port] = name
        mount = res.get("mount")
        if not isinstance(mount, str) or not mount.startswith("/") or mount == "/":
            errors.append("%s:mount: %r is not an absolute mount point" % (field, mount))
        elif mount in mounts:
            errors.append("%s:mount: %s is already the mount point of resource %s"
                          % (field, mount, mounts[mount]))
        else:
            mounts[mount] = name
        if res.get("fs", "ext4") not in FILESYSTEMS:
            errors.append("%s:fs: %r is not one of %s" % (field, res.get("fs"),
                                                          ", ".join(FILESYSTEMS)))
        if res.get("service") is not None and res.get("service") not in SERVICES:
            errors.append("%s:service: %r is not one hastack runs on DRBD (%s)"
                          % (field, res.get("service"), ", ".join(SERVICES)))
        manager = res.get("manager", "hastack")
        if manager not in MANAGERS:
            errors.append("%s:manager: %r is not %s" % (field, manager, " or ".join(MANAGERS)))
        elif manager == "pacemaker":
            _check_pacemaker(topo, name, res, members, errors)
        _check_address(res.get("address"), field + ":address", subnet, taken, errors)
        taken.setdefault(str(res.get("address")), "resource %s" % name)
        net = res.get("net") or {}
        if not isinstance(net, dict):
            errors.append("%s:net: must map DRBD net options to values" % field)
        else:
            for key, value in net.items():
                if key not in DEFAULT_NET:
                    errors.append("%s:net: unknown option %r (known: %s)"
                                  % (field, key, ", ".join(sorted(DEFAULT_NET))))
                elif not isinstance(value, int) or isinstance(value, bool) or value < 1:
                    errors.append("%s:net:%s: %r is not a positive integer"
                                  % (field, key, value))


def _check_pacemaker(topo, name, res, members, errors):
    """A resource Pacemaker runs needs a Pacemaker-managed cluster with both its nodes, and
    its stack's ids free."""
    field = "hastack:drbd:resources:%s" % name
    cfg = topo.get("cluster")
    if not isinstance(cfg, dict):
        errors.append("%s:manager: pacemaker needs a hastack:cluster section (the Corosync/"
                      "Pacemaker cluster of %s)" % (field, " and ".join(map(str, members))
                                                    or "its nodes"))
        return
    if cfg.get("manager") != "pacemaker":
        errors.append("%s:manager: pacemaker, but hastack:cluster:manager is %r: set it to "
                      "pacemaker, or hastack's reactor would act on what Pacemaker runs"
                      % (field, cfg.get("manager", "hastack")))
    cluster_nodes = cfg.get("nodes")
    if cluster_nodes is None:
        cluster_nodes = [n for n, v in (topo.get("nodes") or {}).items()
                         if "controller" in ((v or {}).get("roles") or [])]
    for node in members:
        if isinstance(cluster_nodes, list) and node not in cluster_nodes:
            errors.append("%s:nodes: %r is not in hastack:cluster:nodes; Pacemaker runs "
                          "the resource only on cluster members" % (field, node))
    taken = cfg.get("resources") if isinstance(cfg.get("resources"), dict) else {}
    for rid in pacemaker_ids(name, res):
        if rid in taken or "%s-clone" % rid in taken:
            errors.append("hastack:cluster:resources:%s: the id belongs to DRBD resource %s's "
                          "Pacemaker stack (%s:manager: pacemaker); rename it"
                          % (rid, name, field))


def _check_address(value, field, subnet, taken, errors):
    try:
        addr = ipaddress.IPv4Address(str(value))
    except ValueError:
        errors.append("%s: %r is not an IPv4 address (the service's own address, held by "
                      "the Primary)" % (field, value))
        return
    if subnet is not None and addr not in subnet:
        errors.append("%s: %s is outside the nodes' subnet %s (hastack:network:subnet)"
                      % (field, addr, subnet))
    elif str(addr) in taken:
        errors.append("%s: %s is already the address of %s" % (field, addr, taken[str(addr)]))
