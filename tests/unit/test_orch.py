"""orch.deploy's order, rendered from the SLS file as the master renders it (Jinja, then
YAML) for the lab's topology: every step that must wait for another requires it."""

import os

import jinja2
import pytest
import yaml

from hastack import cluster, loadbalancer, neutron, secrets
from hastack.lab import layout

ORCH = os.path.join(os.path.dirname(__file__), "..", "..", "orch", "deploy.sls")


def render(topo):
    funcs = {
        "pillar.get": lambda key, default=None: topo if key == "hastack" else default,
        "ha_topology.lb_nodes": lambda: loadbalancer.lb_nodes(topo),
        "ha_cluster.members": lambda: cluster.members(topo),
        "ha_topology.neutron_agent_nodes": lambda: (neutron.agent_nodes(topo)
                                                    if "neutron" in topo["services"] else []),
    }
    with open(ORCH) as f:
        text = jinja2.Environment().from_string(f.read()).render(salt=funcs)
    return yaml.safe_load(text)


def requires(step):
    for item in step.get("salt.state") or step.get("salt.runner") or []:
        if isinstance(item, dict) and "require" in item:
            return [r["salt"] for r in item["require"]]
    return []


def target(step):
    for item in step.get("salt.state") or []:
        if isinstance(item, dict) and "tgt" in item:
            return item["tgt"]
    return None


@pytest.fixture
def lab_topo():
    topo = layout.make_topology(3, 2)
    topo["secrets"], _ = secrets.complete({}, topo)
    return topo


def test_neutron_controllers_then_network_nodes_one_at_a_time(lab_topo):
    steps = render(lab_topo)
    assert [target(steps["hastack-neutron-server-%s" % n]) for n in ("ctl1", "ctl2", "ctl3")] \
        == ["ctl1", "ctl2", "ctl3"]
    assert requires(steps["hastack-neutron-server-ctl1"]) == [
        "hastack-neutron-db", "hastack-neutron-keystone"]
    assert "hastack-neutron-server-ctl1" in requires(steps["hastack-neutron-server-ctl2"])
    assert "hastack-neutron-server-ctl2" in requires(steps["hastack-neutron-server-ctl3"])
    # The network nodes after every controller, each after the one before it.
    assert requires(steps["hastack-neutron-agents-net1"]) == ["hastack-neutron-server-ctl3"]
    assert requires(steps["hastack-neutron-agents-net2"]) == [
        "hastack-neutron-server-ctl3", "hastack-neutron-agents-net1"]
    # Its database on a Galera node once Galera is up; its Keystone user after the catalog.
    assert "hastack-galera-up" in requires(steps["hastack-neutron-db"])
    assert requires(steps["hastack-neutron-keystone"]) == ["hastack-keystone-catalog"]


def test_no_neutron_no_neutron_steps(lab_topo):
    del lab_topo["services"]["neutron"]
    assert not [name for name in render(lab_topo) if "neutron" in name]


def option(step, key):
    for item in step.get("salt.state") or []:
        if isinstance(item, dict) and key in item:
            return item[key]
    return None


def test_quorum_queues_are_grown_again_after_the_services_that_declare_them(lab_topo):
    """A new controller's Neutron declares its own quorum queues after RabbitMQ's join step;
    RabbitMQ gives them three replicas at most, so the rollout grows them at its end."""
    steps = render(lab_topo)
    step = steps["hastack-rabbitmq-replicas"]
    assert target(step) == "ctl1" and option(step, "sls") == "rabbitmq.replicas"
    assert option(step, "order") == "last"
    assert requires(step) == ["hastack-rabbitmq-cluster"]
    # The Neutron steps are ordered among the others (no order of their own), so they run
    # before any step ordered last.
    assert not [n for n in steps if "neutron" in n and option(steps[n], "order")]


def test_no_rabbitmq_no_replica_step(lab_topo):
    del lab_topo["services"]["rabbitmq"]
    lab_topo["services"].pop("neutron", None)
    assert "hastack-rabbitmq-replicas" not in render(lab_topo)
