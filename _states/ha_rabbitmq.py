"""
RabbitMQ cluster membership and users from the topology pillar.

.. code-block:: yaml

    rabbitmq-joined:
      ha_rabbitmq.clustered: []       # on every member; the seed only checks it runs
    rabbitmq-users:
      ha_rabbitmq.users_managed: []   # once, on a running member
"""

try:
    from hastack import rabbitmq

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_rabbitmq"


def __virtual__():
    if not HAS_HASTACK or "ha_rabbitmq.status" not in __salt__:
        return (False, "The 'ha_rabbitmq' execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def _each_node(ret, changes, nodes, fun, would, did):
    """Run ``fun(node)`` for each node (unless test=True), stopping at the first failure."""
    ret["changes"] = changes
    if __opts__["test"]:
        ret.update(result=None, comment="would %s %s" % (would, ", ".join(nodes)))
        return ret
    for node in nodes:
        res = __salt__[fun](node)
        if not res["result"]:
            ret.update(result=False, changes={}, comment=res["comment"])
            return ret
    ret["comment"] = "%s %s" % (did, ", ".join(nodes))
    return ret


def clustered(name="rabbitmq"):
    """This node runs in the cluster of the seed (the first member in pillar order)."""
    ret = _ret(name)
    topo = __salt__["ha_topology.get"]()
    me, seed = __grains__["id"], rabbitmq.members(topo)[0]
    status = __salt__["ha_rabbitmq.status"]()
    if status is None:
        ret.update(result=False, comment="RabbitMQ does not answer on %s" % me)
        return ret
    if me == seed or seed in status["running"]:
        ret["comment"] = "%s runs in %s's cluster" % (me, seed)
        return ret
    ret["changes"] = {"joined": rabbitmq.node_name(seed)}
    if __opts__["test"]:
        ret.update(result=None, comment="would join %s" % rabbitmq.node_name(seed))
        return ret
    res = __salt__["ha_rabbitmq.join"](seed)
    if not res["result"]:
        ret.update(result=False, changes={}, comment=res["comment"])
    else:
        ret["comment"] = res["comment"]
    return ret


def replicas_grown(name="rabbitmq-quorum-replicas"):
    """Every quorum queue has a replica on every running member (a member that joined after
    the queues were declared gets its replicas here)."""
    ret = _ret(name)
    topo = __salt__["ha_topology.get"]()
    status = __salt__["ha_rabbitmq.status"]()
    if status is None:
        ret.update(result=False, comment="RabbitMQ does not answer on %s" % __grains__["id"])
        return ret
    plan = {}
    for vhost in __salt__["ha_rabbitmq.vhosts"]():
        for node, queues in rabbitmq.grow_plan(topo, status,
                                               __salt__["ha_rabbitmq.queues"](vhost)).items():
            plan.setdefault(node, []).extend("%s %s" % (vhost, q) for q in queues)
    if not plan:
        ret["comment"] = "every quorum queue has a replica on every running member"
        return ret
    return _each_node(ret, {"grown": plan}, list(plan), "ha_rabbitmq.grow",
                      "grow quorum queues onto", "grew quorum queues onto")


def users_managed(name="rabbitmq-users"):
    """guest gone; hastack's administrator and the pillar's users present with their
    passwords and permissions; the queue policy the pillar's queue mode needs."""
    ret = _ret(name)
    topo = __salt__["ha_topology.get"]()
    current = __salt__["ha_rabbitmq.users"]()
    todo = []
    if "guest" in current:
        todo.append(("delete guest", "ha_rabbitmq.delete_user", ["guest"]))
    for user, spec in rabbitmq.users(topo).items():
        if user in current and __salt__["ha_rabbitmq.user_ok"](user, spec["password"]) \
                and current[user] == sorted(spec["tags"]):
            continue
        todo.append(("set user %s" % user, "ha_rabbitmq.set_user",
                     [user, spec["password"], spec["tags"], spec["vhost"]]))
    status = __salt__["ha_rabbitmq.status"]()
    try:
        policy = rabbitmq.queue_policy(topo, status["version"] if status else "")
    except ValueError as exc:
        ret.update(result=False, comment=str(exc))
        return ret
    have = __salt__["ha_rabbitmq.policies"]().get(rabbitmq.MIRROR_POLICY["name"])
    if policy and have != {"pattern": policy["pattern"], "apply_to": policy["apply_to"],
                           "definition": policy["definition"]}:
        todo.append(("set policy %s" % policy["name"], "ha_rabbitmq.set_policy",
                     [policy["name"], policy["pattern"], policy["definition"],
                      policy["apply_to"]]))
    elif not policy and have:
        todo.append(("clear policy %s" % rabbitmq.MIRROR_POLICY["name"],
                     "ha_rabbitmq.clear_policy", [rabbitmq.MIRROR_POLICY["name"]]))
    if not todo:
        ret["comment"] = "users and policies as the pillar says"
        return ret
    ret["changes"] = {"actions": [what for what, _, _ in todo]}
    if __opts__["test"]:
        ret.update(result=None, comment="would: " + "; ".join(ret["changes"]["actions"]))
        return ret
    for what, fun, args in todo:
        res = __salt__[fun](*args)
        if not res["result"]:
            ret.update(result=False, comment=res["comment"])
            return ret
    ret["comment"] = "; ".join(ret["changes"]["actions"])
    return ret


def forgotten(name="rabbitmq-membership"):
    """Cluster nodes no longer in the pillar are forgotten (they must be stopped first)."""
    ret = _ret(name)
    topo = __salt__["ha_topology.get"]()
    status = __salt__["ha_rabbitmq.status"]()
    gone = rabbitmq.forget_plan(topo, status) if status else []
    if not gone:
        ret["comment"] = "the cluster's nodes are the pillar's"
        return ret
    running = [n for n in gone if n in status["running"]]
    if running:
        ret.update(result=False, comment="%s still running: stop RabbitMQ there first"
                   % ", ".join(running))
        return ret
    return _each_node(ret, {"forgotten": gone}, gone, "ha_rabbitmq.forget", "forget",
                      "forgot")
