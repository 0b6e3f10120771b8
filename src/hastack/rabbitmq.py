"""RabbitMQ: a cluster whose membership is the pillar's, replicated queues, no default user.

- Nodes are named ``rabbit@<node>`` and listen (AMQP and inter-node) on their own address.
- Every member shares one Erlang cookie, generated once (``hastack:secrets:rabbitmq_cookie``).
- The first member in pillar order is the seed; the others join it one at a time, each
  waiting until it runs in the seed's cluster. A cluster node that is no longer in the pillar
  is forgotten by the others once it is stopped; a node added to the pillar joins.
- ``cluster_partition_handling = pause_minority`` (RabbitMQ 3.x; 4.3 removed the strategies):
  the side of a partition without a majority pauses instead of diverging.
- Queues: quorum queues are the default (``queues: quorum``): clients declare them, with
  oslo.messaging's ``[oslo_messaging_rabbit] rabbit_quorum_queue = true``. Classic mirroring
  by policy (``queues: classic_mirrored``, ``ha-mode: all``) is available on 3.x only:
  RabbitMQ 4.0 removed it, and hastack refuses that choice there.
- ``guest`` is deleted; an administrator ``hastack`` and the OpenStack services' users (from
  ``hastack:services:rabbitmq:users``) get generated passwords
  (``hastack:secrets:rabbitmq_users:<name>``).

Pure: the topology and ``rabbitmqctl``'s JSON in, decisions and config text out.
"""

import json

ADMIN_USER = "hastack"
QUEUE_MODES = ("quorum", "classic_mirrored")
MIRROR_POLICY = {"name": "hastack-ha-all", "pattern": r"^(?!amq\.).*",
                 "definition": {"ha-mode": "all", "ha-sync-mode": "automatic"},
                 "apply_to": "queues"}


def node_name(node):
    return "rabbit@%s" % node


def short(name):
    return name.split("@", 1)[-1]


def members(topo):
    return list(topo["services"]["rabbitmq"]["nodes"])


def render_config(topo, node):
    svc = topo["services"]["rabbitmq"]
    addr = str(topo["nodes"][node]["address"])
    return "\n".join([
        "# Managed by hastack from the hastack pillar; local changes are overwritten.",
        "listeners.tcp.1 = %s:%d" % (addr, svc["port"]),
        "distribution.listener.interface = %s" % addr,
        "# The minority side of a partition pauses rather than diverging.",
        "cluster_partition_handling = pause_minority",
        "loopback_users.guest = true",
    ]) + "\n"


def render_env(node):
    return "# Managed by hastack.\nNODENAME=%s\n" % node_name(node)


def parse_status(text):
    """``rabbitmqctl cluster_status --formatter json`` -> the facts hastack uses."""
    data = json.loads(text)
    partitions = data.get("partitions") or {}
    return {
        "nodes": sorted(short(n) for n in data.get("disk_nodes", []) + data.get("ram_nodes", [])),
        "running": sorted(short(n) for n in data.get("running_nodes", [])),
        "partitions": {short(k): sorted(short(n) for n in v) for k, v in partitions.items()
                       if v},
        "alarms": data.get("alarms", []),
        "version": next(iter((data.get("versions") or {}).values()), {}).get(
            "rabbitmq_version", ""),
    }


def forget_plan(topo, status):
    """Cluster nodes that are no longer members (to be forgotten once they are stopped)."""
    wanted = set(members(topo))
    return [n for n in status["nodes"] if n not in wanted]


def grow_plan(topo, status, queues):
    """Members running in the cluster that some quorum queue has no replica on:
    ``{node: [queue, ...]}``. A quorum queue keeps the members it was declared with; a node
    that joined later holds none of its replicas until it is grown onto it
    (``rabbitmq-queues grow``). ``queues`` is what ``ha_rabbitmq.queues`` returns:
    ``{name: {"type", "members"}}``."""
    wanted = [n for n in members(topo) if n in status.get("running", [])]
    out = {}
    for name, q in sorted(queues.items()):
        if q.get("type") != "quorum":
            continue
        for node in wanted:
            if node not in q.get("members", []):
                out.setdefault(node, []).append(name)
    return out


def users(topo):
    """``{name: {"password", "tags", "vhost"}}`` for every user hastack keeps."""
    secrets = topo.get("secrets", {})
    svc = topo["services"]["rabbitmq"]
    out = {ADMIN_USER: {"password": secrets.get("rabbitmq_admin_password"),
                        "tags": ["administrator"], "vhost": "/"}}
    for name, spec in sorted((svc.get("users") or {}).items()):
        out[name] = {"password": (secrets.get("rabbitmq_users") or {}).get(name),
                     "tags": [], "vhost": (spec or {}).get("vhost", "/")}
    return out


def queue_policy(topo, version):
    """The policy the pillar's queue mode needs on RabbitMQ ``version``, or None.
    Raises ValueError for classic mirroring on 4.x, which removed it."""
    mode = topo["services"]["rabbitmq"].get("queues", "quorum")
    if mode != "classic_mirrored":
        return None
    if version and int(version.split(".")[0]) >= 4:
        raise ValueError("hastack:services:rabbitmq:queues: classic_mirrored needs RabbitMQ "
                         "3.x; %s removed classic mirroring: use quorum" % version)
    return MIRROR_POLICY


def validate(topo, errors):
    svc = (topo.get("services") or {}).get("rabbitmq")
    if not isinstance(svc, dict):
        return
    field = "hastack:services:rabbitmq"
    mode = svc.get("queues", "quorum")
    if mode not in QUEUE_MODES:
        errors.append("%s:queues: %r is not one of %s" % (field, mode, ", ".join(QUEUE_MODES)))
    users_ = svc.get("users") or {}
    if not isinstance(users_, dict):
        errors.append("%s:users: must map a user name to its settings" % field)
        return
    passwords = (topo.get("secrets") or {}).get("rabbitmq_users") or {}
    for name in users_:
        if name in (ADMIN_USER, "guest"):
            errors.append("%s:users: %r is reserved" % (field, name))
        elif name not in passwords:
            errors.append("hastack:secrets:rabbitmq_users:%s: missing; `hastack secrets --out "
                          "FILE --topology TOPOLOGY` generates it" % name)
