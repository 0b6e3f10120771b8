"""
RabbitMQ on this node through ``rabbitmqctl`` (JSON output) and an AMQP check with pika.

Decisions (membership, users, queue policy) are :mod:`hastack.rabbitmq`.
"""

import json
import subprocess

try:
    import pika

    from hastack import rabbitmq

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_rabbitmq"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_rabbitmq: needs pika and the hastack package in the minion's Python")
    return __virtualname__


def _ctl(*args, stdin=None, timeout=120):
    res = subprocess.run(["rabbitmqctl", "--quiet"] + list(args), input=stdin,
                         capture_output=True, text=True, timeout=timeout)
    return res.returncode, res.stdout, res.stderr.strip() or res.stdout.strip()


def _ok(code, err, what):
    return {"result": code == 0, "comment": what if code == 0 else "%s failed: %s" % (what, err)}


def status():
    """
    Cluster status: nodes, running nodes, partitions, alarms, version; None when the local
    node does not answer.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.status
    """
    code, out, _ = _ctl("cluster_status", "--formatter", "json", timeout=60)
    return rabbitmq.parse_status(out) if code == 0 else None


def join(seed):
    """
    Join this node to ``seed``'s cluster (stop_app, reset, join_cluster, start_app).

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_rabbitmq.join ctl1
    """
    for args in (("stop_app",), ("reset",), ("join_cluster", rabbitmq.node_name(seed)),
                 ("start_app",)):
        code, _, err = _ctl(*args, timeout=300)
        if code != 0:
            _ctl("start_app", timeout=300)
            return _ok(code, err, " ".join(args))
    return {"result": True, "comment": "joined %s" % rabbitmq.node_name(seed)}


def forget(node):
    """
    Remove a stopped node from the cluster.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.forget ctl3
    """
    code, _, err = _ctl("forget_cluster_node", rabbitmq.node_name(node), timeout=120)
    return _ok(code, err, "forget %s" % node)


def users():
    """
    ``{user: [tags]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.users
    """
    code, out, err = _ctl("list_users", "--formatter", "json")
    if code != 0:
        raise RuntimeError(err)
    return {u["user"]: sorted(u["tags"]) for u in json.loads(out)}


def user_ok(name, password):
    """
    True when ``name`` exists and authenticates with ``password``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.user_ok openstack PASSWORD
    """
    return _ctl("authenticate_user", name, password)[0] == 0


def set_user(name, password, tags=(), vhost="/"):
    """
    Create or update a user: password (read from stdin, never on a command line), tags,
    and full permissions on ``vhost``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.set_user openstack PASSWORD
    """
    verb = "change_password" if name in users() else "add_user"
    for args, stdin in (((verb, name), password), (("set_user_tags", name) + tuple(tags), None),
                        (("add_vhost", vhost), None),
                        (("set_permissions", "-p", vhost, name, ".*", ".*", ".*"), None)):
        code, _, err = _ctl(*args, stdin=stdin)
        if code != 0 and not (args[0] == "add_vhost" and "already exists" in err):
            return _ok(code, err, " ".join(args[:2]))
    return {"result": True, "comment": "user %s set" % name}


def delete_user(name):
    """
    Delete a user.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.delete_user guest
    """
    code, _, err = _ctl("delete_user", name)
    return _ok(code, err, "delete %s" % name)


def vhosts():
    """
    The virtual hosts.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.vhosts
    """
    code, out, err = _ctl("list_vhosts", "name", "--formatter", "json")
    if code != 0:
        raise RuntimeError(err)
    return sorted(v["name"] for v in json.loads(out))


def queues(vhost="/"):
    """
    ``{queue: {"type", "leader", "members", "messages"}}`` (``leader`` is the node holding a
    quorum queue's leader, or a classic queue's master; ``members``, a quorum queue's
    replicas).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.queues
    """
    code, out, err = _ctl("list_queues", "-p", vhost, "name", "type", "leader", "members",
                          "messages", "--formatter", "json")
    if code != 0:
        raise RuntimeError(err)
    return {q["name"]: {"type": q["type"], "leader": rabbitmq.short(q["leader"] or ""),
                        "members": [rabbitmq.short(m) for m in q.get("members") or []
                                    if isinstance(m, str)],
                        "messages": q["messages"]} for q in json.loads(out)}


def _queues_cmd(verb, node, *extra):
    try:
        res = subprocess.run(["rabbitmq-queues", verb, rabbitmq.node_name(node)] + list(extra),
                             capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"result": False, "comment": "rabbitmq-queues %s: %s" % (verb, exc)}
    return {"result": res.returncode == 0,
            "comment": (res.stdout if res.returncode == 0 else res.stderr).strip()[-2000:]}


def grow(node):
    """
    Add a replica on ``node`` to every quorum queue that lacks one (a member that joined
    after the queues were declared).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.grow ctl4
    """
    return _queues_cmd("grow", node, "all")


def shrink(node):
    """
    Remove ``node``'s replica from every quorum queue (before the node leaves the cluster:
    the queues keep their quorum among the members that stay).

    CLI Example:

    .. code-block:: bash

        salt ctl4 ha_rabbitmq.shrink ctl4
    """
    return _queues_cmd("shrink", node)


def policies(vhost="/"):
    """
    ``{name: {pattern, definition, apply-to}}`` on ``vhost``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.policies
    """
    code, out, err = _ctl("list_policies", "-p", vhost, "--formatter", "json")
    if code != 0:
        raise RuntimeError(err)
    return {p["name"]: {"pattern": p["pattern"], "apply_to": p["apply-to"],
                        "definition": json.loads(p["definition"])
                        if isinstance(p["definition"], str) else p["definition"]}
            for p in json.loads(out)}


def set_policy(name, pattern, definition, apply_to="queues", vhost="/"):
    """
    Set a policy.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.set_policy ha-all '.*' '{"ha-mode": "all"}'
    """
    if not isinstance(definition, str):
        definition = json.dumps(definition)
    code, _, err = _ctl("set_policy", "-p", vhost, "--apply-to", apply_to, name, pattern,
                        definition)
    return _ok(code, err, "policy %s" % name)


def clear_policy(name, vhost="/"):
    """
    Remove a policy.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.clear_policy hastack-ha-all
    """
    code, _, err = _ctl("clear_policy", "-p", vhost, name)
    return _ok(code, err, "clear policy %s" % name)


def render_config():
    """
    rabbitmq.conf as hastack renders it for this node.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.render_config
    """
    return rabbitmq.render_config(__salt__["ha_topology.get"](), __grains__["id"])


def render_env():
    """
    rabbitmq-env.conf (the node name) for this node.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.render_env
    """
    return rabbitmq.render_env(__grains__["id"])


def amqp_check(user, password, host=None, port=None):
    """
    Connect over AMQP, declare a temporary queue, publish one message with a publisher
    confirm and consume it back. ``host`` defaults to this node's address.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_rabbitmq.amqp_check openstack PASSWORD
    """
    topo = __salt__["ha_topology.get"]()
    host = host or str(topo["nodes"][__grains__["id"]]["address"])
    port = port or topo["services"]["rabbitmq"]["port"]
    params = pika.ConnectionParameters(host, port, "/", pika.PlainCredentials(user, password),
                                       socket_timeout=5, blocked_connection_timeout=5)
    try:
        conn = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        return {"result": False, "comment": "connect: %r" % exc}
    try:
        ch = conn.channel()
        ch.confirm_delivery()
        queue = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
        ch.basic_publish("", queue, b"hastack-check", mandatory=True)
        _, _, body = ch.basic_get(queue, auto_ack=True)
        ok = body == b"hastack-check"
        return {"result": ok, "comment": "published with confirm and consumed" if ok
                else "message not consumed back"}
    except pika.exceptions.AMQPError as exc:
        return {"result": False, "comment": repr(exc)}
    finally:
        conn.close()
