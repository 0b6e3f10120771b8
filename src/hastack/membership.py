"""Cluster membership: the pillar's topology is the membership, and every layer follows it.

Adding a node is the rollout itself: ``orch.deploy`` renders every layer from the pillar, so a
controller added there joins Corosync (nodelist reloaded in place), Galera (the others' cluster
address is rewritten without a restart: a running member learns new members from the group;
``hastack.galera_recover`` joins the new one by SST while the others stay Primary), RabbitMQ
(joined, then the quorum queues grow a replica on it), the keepalived peers and haproxy
backends (reloaded, not restarted) and Keystone.

Removing one needs more care, because the pillar no longer names the node to act on. Each node
hastack deploys carries a mark (the grain :data:`MARK_GRAIN`: the cluster's name and what the
node runs, :func:`mark`). A minion with this cluster's mark that the pillar does not name has
*departed* (:func:`departed`); before the others are reconfigured it is drained, in the order
of :func:`drain_plan`: healing stops there first (or the reactor would restart what the drain
stops), Pacemaker moves its resources away (standby), haproxy everywhere stops sending it new
connections, keepalived stops there (its VIPs move at once: a stopping keepalived advertises
priority 0), its API units stop, its quorum-queue replicas are removed and RabbitMQ stops and
is forgotten, MariaDB stops cleanly (a clean leave shrinks the group and keeps it Primary),
Corosync stops (the rollout then drops it from corosync.conf and Pacemaker's node list),
every unit is disabled so a reboot does not bring it back, and the mark is removed. Then it
is left alone. A departed node that does not answer is
drained from the peers' side only (the steps that run on it are reported as skipped).

A node that stays in the pillar but leaves ``hastack:cluster:nodes`` (:func:`left_cluster`)
leaves Corosync/Pacemaker only, in the same step (:func:`leave_cluster_plan`).
"""

from hastack import cluster, heal, loadbalancer, rabbitmq

MARK_GRAIN = "hastack"


def mark(topo, node):
    """The grain hastack sets on ``node``: its cluster, the parts it runs, and the units."""
    services = topo.get("services", {})
    parts = []
    if node in loadbalancer.lb_nodes(topo):
        parts.append("loadbalancer")
    for name in sorted(services):
        if node in (services[name].get("nodes") or []):
            parts.append(name)
    galera = services.get("galera") or {}
    if galera.get("arbitrator") == node:
        parts.append("arbitrator")
    if topo.get("cluster") and node in cluster.members(topo):
        parts.append("cluster")
    return {"cluster": topo.get("cluster_name", "hastack"), "parts": parts,
            "units": heal.units_for(topo, node)}


def departed(topo, marks):
    """Minions carrying this cluster's mark that the pillar no longer names, sorted.
    ``marks`` is ``{minion: grain value}`` as the minions answered."""
    name = topo.get("cluster_name", "hastack")
    return sorted(m for m, g in marks.items()
                  if isinstance(g, dict) and g.get("cluster") == name
                  and m not in topo.get("nodes", {}))


def left_cluster(topo, marks):
    """Nodes the pillar still names, marked as Corosync/Pacemaker members, that
    ``hastack:cluster:nodes`` no longer lists, sorted: they leave the cluster and keep their
    other parts (:func:`leave_cluster_plan`). Other parts a node loses while it stays follow
    their own rollout steps (RabbitMQ: ``rabbitmq.removed``; the arbitrator:
    ``galera.arbitrator_removed``)."""
    name = topo.get("cluster_name", "hastack")
    return sorted(m for m, g in marks.items()
                  if isinstance(g, dict) and g.get("cluster") == name
                  and m in topo.get("nodes", {}) and "cluster" in (g.get("parts") or [])
                  and "cluster" not in mark(topo, m)["parts"])


def _step(what, on, fun, *args, **kwargs):
    return {"what": what, "on": on, "fun": fun, "args": list(args), "kwargs": kwargs}


def drain_plan(topo, node, node_mark):
    """The ordered steps that take departed ``node`` (whose mark was ``node_mark``) out of
    every layer. Each step is ``{"what", "on", "fun", "args", "kwargs"}``: Salt function
    ``fun`` to run on minion(s) ``on`` (the departed node itself, or remaining members)."""
    parts = set(node_mark.get("parts", []))
    units = list(node_mark.get("units", []))
    services = topo.get("services", {})
    steps = [_healing_off_step(node),
             _step("stop the health beacon on %s" % node, node, "beacons.delete", "ha_health",
                   save=True)]
    if "cluster" in parts:
        steps.append(_standby_step(node))
    lbs = [n for n in loadbalancer.lb_nodes(topo) if n != node]
    if lbs and (parts - {"loadbalancer", "cluster", "arbitrator"}):
        steps.append(_step("haproxy sends no new connection to %s" % node, lbs,
                           "ha_haproxy.drain", node))
    if "loadbalancer" in parts:
        steps.append(_step("keepalived stops on %s: its VIPs move" % node, node,
                           "service.stop", "keepalived"))
    api_units = [u for u in units if u not in heal.LB_UNITS
                 and u not in (heal.SERVICE_UNITS.get("galera"),
                               heal.SERVICE_UNITS.get("rabbitmq"))]
    for unit in api_units:
        steps.append(_step("%s stops on %s" % (unit, node), node, "service.stop", unit))
    if "rabbitmq" in parts:
        rabbits = [n for n in rabbitmq.members(topo) if n != node] if services.get(
            "rabbitmq") else []
        steps.append(_step("quorum queues drop their replica on %s" % node,
                           rabbits[0] if rabbits else node, "ha_rabbitmq.shrink", node))
        steps.append(_step("RabbitMQ stops on %s, its data removed" % node, node,
                           "state.sls", "rabbitmq.removed"))
        if rabbits:
            steps.append(_step("RabbitMQ forgets %s" % node, rabbits[0], "ha_rabbitmq.forget",
                               node))
    if "galera" in parts:
        steps.append(_step("MariaDB leaves the Galera cluster cleanly on %s" % node, node,
                           "ha_galera.stop"))
    if "arbitrator" in parts:
        steps.append(_step("the Galera arbitrator stops on %s" % node, node, "service.stop",
                           "garb"))
    if "cluster" in parts:
        steps.append(_leave_step(node))
    disable = [u for u in ["keepalived", "haproxy"] if "loadbalancer" in parts] + api_units
    disable += [u for u, part in (("hastack-galera-health", "galera"), ("mariadb", "galera"),
                                  ("rabbitmq-server", "rabbitmq"), ("garb", "arbitrator"),
                                  ("pacemaker", "cluster"), ("corosync", "cluster"))
                if part in parts]
    steps += _disabled(node, dict.fromkeys(disable))
    steps.append(_step("%s no longer carries the %s mark" % (node, MARK_GRAIN), node,
                       "grains.delkey", MARK_GRAIN, force=True))
    return steps


def leave_cluster_plan(node):
    """The steps that take ``node`` out of Corosync/Pacemaker while it stays in the pillar
    with its other parts: healing stops there until the rollout ends (the pillar may already
    give hastack what Pacemaker is stopping: the Neutron agents, back from Pacemaker, were
    restarted by healing under Pacemaker's stop, which then timed out), its resources move
    off (standby), Pacemaker and Corosync stop and are not started at boot. The rollout that
    follows rewrites the members' corosync.conf, Pacemaker forgets the node as it forgets a
    departed one, and its last step (the ``heal`` state) resumes healing there."""
    return ([_healing_off_step(node), _standby_step(node), _leave_step(node)]
            + _disabled(node, ["pacemaker", "corosync"]))


def _healing_off_step(node):
    return _step("the master stops healing %s" % node, node, "grains.delkey",
                 heal.ROLLED_OUT_GRAIN, force=True)


def _standby_step(node):
    return _step("Pacemaker moves its resources off %s" % node, node, "ha_cluster.standby")


def _leave_step(node):
    # The others drop it from corosync.conf (reloaded) and then from Pacemaker's node list
    # in the rollout that follows (cluster state, ha_cluster.forgotten).
    return _step("Pacemaker and Corosync stop on %s" % node, node, "ha_cluster.leave")


def _disabled(node, units):
    steps = []
    for unit in units:
        steps.append(_step("%s stopped on %s" % (unit, node), node, "service.stop", unit))
        steps.append(_step("%s not started at boot on %s" % (unit, node), node,
                           "service.disable", unit))
    return steps
