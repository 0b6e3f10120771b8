"""Galera: which node bootstraps, how a crashed cluster comes back without losing a row.

The state machine, in prose (after ClusterLabs' galera agent):

- A node *reports* what it knows of its data: whether ``grastate.dat`` exists, the cluster
  UUID in it, its last committed seqno (from ``grastate.dat`` after a clean stop, else from
  ``mariadbd --wsrep-recover`` after a crash, where grastate says -1), ``safe_to_bootstrap``,
  and whether mariadbd runs and is Synced in a Primary component.
- If any node is running in a Primary component, nothing is elected: the stopped nodes join
  it, one at a time (they catch up by IST, or SST if too far behind).
- Otherwise one node must bootstrap a new Primary component. :func:`elect` picks it by these
  rules, in order:

  1. If the operator names a node, that node (the operator's word beats every rule).
  2. Every member of the pillar must have reported: a node that cannot report might hold the
     newest commit, so the automatic path waits ("waiting on node X to report").
  3. A member whose position could not be read (no seqno after recovery) blocks the same way.
  4. Nodes without ``grastate.dat`` never bootstrap (they have no data to speak for). If no
     member has one, this is a new cluster: the first member in pillar order bootstraps it.
  5. All nodes with data must share one cluster UUID; if not, refuse and name them: picking
     one history would throw away the other.
  6. A node with ``safe_to_bootstrap: 1`` (the last to leave a clean shutdown) wins.
  7. Otherwise the highest seqno; on a tie, the first in pillar order (a stable choice).

- The recovery keeps the history: every node gets its recovered seqno written into its
  ``grastate.dat`` (the winner with ``safe_to_bootstrap: 1``), the winner starts with
  ``--wsrep-new-cluster``, the others join and receive the missing writesets by IST. Starting
  a node with ``--wsrep-new-cluster`` without this would begin a new history
  (UUID 00000000-...:-1) and force a full SST on every joiner (see shared LAB-NOTES), and
  kolla's recovery once picked a stale node this way and lost rows (Launchpad 1682153).

Everything here is pure. ``_modules/ha_galera.py`` gathers reports on a node,
``_runners/hastack.py`` (``galera_recover``) runs the decision across the cluster.
"""

import re
import urllib.parse
from dataclasses import asdict, dataclass, field

NO_UUID = "00000000-0000-0000-0000-000000000000"
SYNCED = 4   # wsrep_local_state

_RECOVERED = re.compile(r"WSREP: Recovered position:?\s+([0-9a-f-]{36}):(-?\d+)")


@dataclass
class Report:
    """What one node knows of its data. ``error`` says why a position could not be read."""
    node: str
    has_grastate: bool = False
    uuid: str = NO_UUID
    seqno: int = -1
    safe_to_bootstrap: bool = False
    running: bool = False
    primary: bool = False
    synced: bool = False
    error: str = ""
    stopped: bool = False     # stopped by the call that reported (it ran outside a Primary)

    @classmethod
    def from_dict(cls, node, data):
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data and k != "node"}
        return cls(node=node, **fields)


@dataclass
class Decision:
    """``action``: ``join`` (a Primary exists), ``bootstrap``, ``new`` (no data anywhere),
    ``wait`` (a node has not reported) or ``refuse`` (ambiguous: the operator must choose)."""
    action: str
    node: str = ""
    reason: str = ""
    joiners: list = field(default_factory=list)

    @property
    def ok(self):
        return self.action in ("join", "bootstrap", "new")

    def as_dict(self):
        return asdict(self)


def describe(report):
    """One line on what a node reported, for the recovery's log."""
    if report is None:
        return "no answer"
    if report.running:
        return "running, %s" % ("Synced Primary" if report.primary and report.synced
                                else "not Synced/Primary")
    if report.error:
        return "stopped, position unreadable: %s" % report.error
    if not report.has_grastate:
        return "stopped, no data"
    return "stopped, seqno %d uuid %s%s" % (report.seqno, report.uuid,
                                           " safe_to_bootstrap" if report.safe_to_bootstrap
                                           else "")


def parse_grastate(text):
    """``grastate.dat`` -> ``{"uuid", "seqno", "safe_to_bootstrap"}`` (missing fields default)."""
    out = {"uuid": NO_UUID, "seqno": -1, "safe_to_bootstrap": False}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "uuid":
            out["uuid"] = value
        elif key == "seqno":
            out["seqno"] = int(value)
        elif key == "safe_to_bootstrap":
            out["safe_to_bootstrap"] = value == "1"
    return out


def start_position_needed(grastate_text):
    """Must MariaDB's start first recover its position from InnoDB (``galera_recovery``, a
    whole InnoDB start)? Galera takes a position given at start only when ``grastate.dat``
    says seqno -1 (a crash) under the same UUID; otherwise it starts from ``grastate.dat``
    and ignores it (``ReplicatorSMM``'s constructor). So only then, or when the file is
    missing or unreadable (Debian's unit recovers before every start).
    ``grastate_text``: the file's text, or None when it does not exist."""
    if grastate_text is None:
        return True
    try:
        return parse_grastate(grastate_text)["seqno"] < 0
    except ValueError:
        return True


def render_grastate(uuid, seqno, safe_to_bootstrap):
    return ("# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %d\n"
            "safe_to_bootstrap: %d\n" % (uuid, seqno, 1 if safe_to_bootstrap else 0))


def parse_recovered(log_text):
    """The last ``Recovered position: uuid:seqno`` in ``mariadbd --wsrep-recover`` output,
    as ``(uuid, seqno)``, or None."""
    found = _RECOVERED.findall(log_text)
    if not found:
        return None
    uuid, seqno = found[-1]
    return uuid, int(seqno)


def elect(members, reports, operator_choice=None):
    """Decide how the cluster of ``members`` (pillar order) comes up, from ``reports``
    (``{node: Report}``; a member absent from it did not answer). See the module doc."""
    primary = [n for n in members if n in reports and reports[n].primary]
    if primary:
        return Decision("join", primary[0], "node %s is running in a Primary component"
                        % primary[0], [n for n in members if n not in primary])
    if operator_choice is not None:
        if operator_choice not in members:
            return Decision("refuse", reason="node %s is not a Galera member (%s)"
                            % (operator_choice, ", ".join(members)))
        return Decision("bootstrap", operator_choice, "the operator chose node %s"
                        % operator_choice, [n for n in members if n != operator_choice])
    for node in members:
        if node not in reports:
            return Decision("wait", node, "waiting on node %s to report its position; if it "
                            "is lost for good, choose a node: salt-run hastack.galera_recover "
                            "node=NAME" % node)
    for node in members:
        if reports[node].error:
            return Decision("refuse", node, "node %s could not read its position (%s); fix it "
                            "or choose a node: salt-run hastack.galera_recover node=NAME"
                            % (node, reports[node].error))
    with_data = [n for n in members if reports[n].has_grastate]
    if not with_data:
        return Decision("new", members[0], "no member has data: node %s starts a new cluster"
                        % members[0], members[1:])
    uuids = {}
    for node in with_data:
        uuids.setdefault(reports[node].uuid, []).append(node)
    real = {u: ns for u, ns in uuids.items() if u != NO_UUID}
    if len(real) > 1:
        detail = "; ".join("%s on %s" % (u, ", ".join(ns)) for u, ns in sorted(real.items()))
        return Decision("refuse", reason="the members hold different cluster histories (%s); "
                        "choose the node to keep: salt-run hastack.galera_recover node=NAME"
                        % detail)
    for node in with_data:
        if reports[node].seqno < 0:
            return Decision("refuse", node, "node %s has data but no seqno; choose a node: "
                            "salt-run hastack.galera_recover node=NAME" % node)
    safe = [n for n in with_data if reports[n].safe_to_bootstrap]
    if safe:
        winner = max(safe, key=lambda n: (reports[n].seqno, -members.index(n)))
        return Decision("bootstrap", winner, "node %s is marked safe_to_bootstrap (seqno %d)"
                        % (winner, reports[winner].seqno), [n for n in members if n != winner])
    winner = max(with_data, key=lambda n: (reports[n].seqno, -members.index(n)))
    seqnos = ", ".join("%s=%d" % (n, reports[n].seqno) for n in with_data)
    return Decision("bootstrap", winner, "node %s has the highest seqno (%s)" % (winner, seqnos),
                    [n for n in members if n != winner])


def grastate_plan(decision, reports):
    """The ``grastate.dat`` each node gets before a bootstrap: ``{node: text}``. Every node
    keeps its own recovered seqno (so it can ask for IST); only the winner may bootstrap."""
    if decision.action != "bootstrap":
        return {}
    uuids = {r.uuid for r in reports.values() if r.has_grastate and r.uuid != NO_UUID}
    plan = {}
    for node, rep in reports.items():
        if not rep.has_grastate or rep.uuid == NO_UUID:
            continue
        plan[node] = render_grastate(rep.uuid, rep.seqno, node == decision.node)
    if decision.node not in plan and len(uuids) == 1:
        rep = reports.get(decision.node)
        plan[decision.node] = render_grastate(uuids.pop(), rep.seqno if rep else -1, True)
    return plan


def status_from_wsrep(variables):
    """``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` rows -> the facts hastack uses."""
    v = {k.lower(): val for k, val in variables.items()}
    state = int(v.get("wsrep_local_state", 0) or 0)
    return {
        "state": state,
        "state_comment": v.get("wsrep_local_state_comment", ""),
        "synced": state == SYNCED,
        "primary": v.get("wsrep_cluster_status", "") == "Primary",
        # Primary, non-Primary, or Disconnected (its group connection closed: see joiner_stuck)
        "cluster_status": v.get("wsrep_cluster_status", ""),
        "ready": v.get("wsrep_ready", "OFF") == "ON",
        "cluster_size": int(v.get("wsrep_cluster_size", 0) or 0),
        "cluster_uuid": v.get("wsrep_cluster_state_uuid", ""),
        "last_committed": int(v.get("wsrep_last_committed", -1) or -1),
    }


def healthy(status):
    """The health endpoint's verdict: serve writes only when Synced, Primary and ready."""
    return bool(status and status["synced"] and status["primary"] and status["ready"])


# How long a joiner may answer outside the Primary component (non-Primary) before it is
# started again: a short partition merges back by itself within this.
REJOIN_AFTER = 30


def joiner_stuck(status, outside_for, grace=REJOIN_AFTER):
    """Must a member that should join a running Primary component be started again?

    A joiner evicted while it joins (a loaded host misses gcomm's timeouts; seen in CI: "New
    SELF-LEAVE") closes its group connection and stays up ``Disconnected`` for good: nothing
    in Galera retries. That one is stuck at once. One that answers ``non-Primary`` may merge
    back by itself; it is stuck after ``grace`` seconds of ``outside_for``. One that does not
    answer yet (starting, waiting for the group, receiving a state transfer) is not stuck:
    its unit's own timeouts end a start that fails."""
    if status is None or healthy(status) or status.get("primary"):
        return False
    if status.get("cluster_status") == "Disconnected":
        return True
    return outside_for >= grace


# What OpenStack services' database sessions ask of Galera (oslo.db's
# ``mysql_wsrep_sync_wait``, ``hastack:services:galera:sync_wait``). A member applies the
# writesets other members committed a little after they committed; haproxy sends every client
# to one writer, but after a failback new connections reach the returning node while pooled
# ones still write to the backup, and a plain read there can miss a row another connection
# has just committed. 1: every read first waits until this member has applied all that was
# committed before it (a round of group communication per read). 0 turns it off.
SYNC_WAIT_DEFAULT = 1


def client_sync_wait(topo):
    """``wsrep_sync_wait`` for the services' sessions (0-15, a bit mask; 1 = reads)."""
    return topo["services"]["galera"].get("sync_wait", SYNC_WAIT_DEFAULT)


def client_url(topo, user, password, database):
    """SQLAlchemy URL of a service's database, through the database VIP (one writer)."""
    from hastack import loadbalancer    # it imports the topology, which imports this

    svc = topo["services"]["galera"]
    host = str(topo["vips"][loadbalancer.service_vips(svc)[0]]["address"])
    return "mysql+pymysql://%s:%s@%s:%d/%s?charset=utf8mb4" % (
        user, urllib.parse.quote(password, safe=""), host, svc.get("frontend_port", svc["port"]),
        database)


def client_config(topo, url):
    """The ``[database]`` section of an OpenStack service's config (oslo.db)."""
    return [
        "[database]",
        "connection = %s" % url,
        "# Through the database VIP: a writer failover drops connections; reconnect and",
        "# retry instead of failing the request, and recycle idle connections before",
        "# haproxy's 8 h timeout.",
        "max_retries = -1",
        "retry_interval = 1",
        "connection_recycle_time = 3600",
        "# Reads wait until this Galera member has applied every earlier commit (after a",
        "# writer failback, pooled and new connections reach different members).",
        "mysql_wsrep_sync_wait = %d" % client_sync_wait(topo),
    ]


SST_METHODS = ("rsync", "mariabackup")

# ``suspect_timeout`` (seconds): Galera's evs.suspect_timeout, 5 s unless the pillar sets it.
# A member that dies hard stalls every commit in the cluster until the others agree it is
# gone, this long. At least 2 s: shorter, a busy host that misses a few keepalives has a live
# member evicted. At most 10 s, under evs.inactive_timeout (15 s).
SUSPECT_TIMEOUT_RANGE = (2, 10)


def evs_timing(suspect_timeout):
    """gcomm's options for a ``suspect_timeout`` (s): ``[(option, seconds)]``. Galera refuses
    to start (``failed to open gcomm backend connection: 34``) unless evs.keepalive_period is
    under a third of evs.suspect_timeout, and evs.inactive_check_period under half of it; the
    keepalive keeps Galera's default ratio (1 s for 5 s), at most its default 1 s."""
    return [("evs.suspect_timeout", suspect_timeout),
            ("evs.keepalive_period", round(min(1.0, suspect_timeout / 5.0), 3)),
            ("evs.inactive_check_period", round(min(0.5, suspect_timeout / 5.0), 3))]


def sst_user_sql(password):
    """Statements that make the mariabackup SST user (``wsrep_sst_auth = sst:...``)."""
    quoted = password.replace("\\", "\\\\").replace("'", "\\'")
    return ["CREATE USER IF NOT EXISTS 'sst'@'localhost' IDENTIFIED BY '%s'" % quoted,
            "ALTER USER 'sst'@'localhost' IDENTIFIED BY '%s'" % quoted,
            "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO 'sst'@'localhost'"]


def sst_donors(members, synced):
    """``wsrep_sst_donor`` for a node joining a running cluster, or None: the Synced members
    haproxy does not write to (single_writer sends every write to the first member), last in
    pillar order first, and a trailing comma so any member may donate when those cannot. A
    donor pauses or lags while it sends; the writer should not. Chosen per join, not in the
    config: joiners starting together would each name the other and wait forever."""
    others = [m for m in reversed(members[1:]) if m in synced]
    return ",".join(others) + "," if others else None


def render_config(topo, node):
    """The MariaDB/Galera config for ``node`` (``/etc/mysql/mariadb.conf.d/60-hastack.cnf``)."""
    svc = topo["services"]["galera"]
    members = list(svc["nodes"])
    addr = str(topo["nodes"][node]["address"])
    gcomm = ",".join(str(topo["nodes"][m]["address"]) for m in members)
    method = svc.get("sst_method", "rsync")
    lines = [
        "# Managed by hastack from the hastack pillar; local changes are overwritten.",
        "[mysqld]",
        "bind-address = %s" % addr,
        "port = %d" % svc["port"],
        "binlog_format = ROW",
        "default_storage_engine = InnoDB",
        "innodb_autoinc_lock_mode = 2",
        "# Every commit on disk before it is acknowledged: a crash loses nothing.",
        "innodb_flush_log_at_trx_commit = 1",
        "wsrep_on = ON",
        "wsrep_provider = /usr/lib/galera/libgalera_smm.so",
        "wsrep_cluster_name = %s" % topo.get("cluster_name", "hastack"),
        "wsrep_cluster_address = gcomm://%s" % gcomm,
        "wsrep_node_address = %s" % addr,
        "wsrep_node_name = %s" % node,
        "wsrep_sst_method = %s" % method,
        "# pc.recovery off: after a full outage, nodes restarted by systemd must not re-form",
        "# a Primary component among themselves (it once left a node holding writesets the",
        "# new Primary lacked); only galera_recover's election may bootstrap one.",
    ]
    options = ["gcache.size=%s" % svc.get("gcache_size", "256M"), "pc.recovery=FALSE"]
    if svc.get("suspect_timeout") is not None:
        lines.append("# evs.suspect_timeout: how long every commit waits when a member dies "
                     "hard (%s s)." % svc["suspect_timeout"])
        options += ["%s=PT%gS" % kv for kv in evs_timing(svc["suspect_timeout"])]
    lines.append('wsrep_provider_options = "%s"' % "; ".join(options))
    if method == "mariabackup":
        lines.append("wsrep_sst_auth = sst:%s" % topo["secrets"]["galera_sst_password"])
    return "\n".join(lines) + "\n"


ARBITRATOR_PORT = 4567


def render_arbitrator(topo):
    """``/etc/default/garb`` for the arbitrator (``hastack:services:galera:arbitrator``):
    garbd votes in the group so an even number of members keeps a majority when half of
    them fail; it holds no data and serves no client."""
    svc = topo["services"]["galera"]
    node = svc["arbitrator"]
    members = ",".join("%s:%d" % (topo["nodes"][m]["address"], ARBITRATOR_PORT)
                       for m in svc["nodes"])
    return "\n".join([
        "# Managed by hastack from the hastack pillar; local changes are overwritten.",
        'GALERA_NODES="%s"' % members,
        'GALERA_GROUP="%s"' % topo.get("cluster_name", "hastack"),
        'GALERA_OPTIONS="gmcast.listen_addr=tcp://%s:%d"' % (topo["nodes"][node]["address"],
                                                            ARBITRATOR_PORT),
        "",
    ])


def _quote(value):
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _ident(name):
    if not name or not all(c.isalnum() or c == "_" for c in name):
        raise ValueError("%r is not a plain database or user name" % name)
    return name


def database_sql(name, user, password, host):
    """Statements that make database ``name`` and give ``user``@``host`` all of it and
    nothing else (an OpenStack service's database). Idempotent; replicated by Galera."""
    who = "'%s'@'%s'" % (_ident(user), _quote(host))
    return ["CREATE DATABASE IF NOT EXISTS `%s`" % _ident(name),
            "CREATE USER IF NOT EXISTS %s IDENTIFIED BY '%s'" % (who, _quote(password)),
            "ALTER USER %s IDENTIFIED BY '%s'" % (who, _quote(password)),
            "GRANT ALL PRIVILEGES ON `%s`.* TO %s" % (_ident(name), who)]


def database_missing(name, user, host, facts):
    """What is missing for an OpenStack service's database, from ``facts`` read on a Primary
    node (``database``: exists, ``user``: exists, ``password``: matches, ``grant``: the user
    has ALL on it). Empty when nothing needs doing."""
    labels = {"database": "database %s" % name,
              "user": "user %s@%s" % (user, host),
              "password": "password of %s@%s" % (user, host),
              "grant": "ALL on %s.* for %s@%s" % (name, user, host)}
    return [labels[k] for k in ("database", "user", "password", "grant") if not facts.get(k)]
