"""
The hastack cluster topology, as seen from this node.

A thin adapter over :mod:`hastack.topology`: the ``hastack`` pillar key is the topology, and
these functions answer what this node needs from it (its roles, the packages those roles
need, /etc/hosts entries) and validate it.

Requires the ``hastack`` package importable by the minion's Python
(``salt-pip install hastack`` on a onedir install, ``pip install hastack`` in a venv).
"""

try:
    from hastack import loadbalancer, membership, neutron, topology

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_topology"


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_topology: the hastack package is not importable by this minion's "
                       "Python; install it there (salt-pip install hastack)")
    return __virtualname__


def _topo():
    # Salt 3008 masks pillar values returned by pillar.get outside templates; hastack needs
    # the real addresses and ports, and returns only what it derives from them.
    return __salt__["pillar.get"]("hastack", {}, unmask=True)


def get():
    """
    The whole topology (the ``hastack`` pillar key), for the other ``ha_*`` modules.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_topology.get
    """
    return _topo()


def validate():
    """
    Validate the topology pillar; returns the list of errors (empty when valid).

    CLI Example:

    .. code-block:: bash

        salt '*' ha_topology.validate
    """
    return topology.validate(_topo())


def node(name=None):
    """
    This node's entry in the topology (address, roles); ``name`` defaults to the minion id.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_topology.node
    """
    name = name or __grains__["id"]
    return _topo().get("nodes", {}).get(name, {})


def packages(name=None):
    """
    The packages this node's roles need, from ``hastack:common:packages``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_topology.packages
    """
    return topology.packages_for(_topo(), node(name).get("roles", []))


def hosts():
    """
    ``{name: address}`` of every node, for /etc/hosts.

    CLI Example:

    .. code-block:: bash

        salt '*' ha_topology.hosts
    """
    return topology.hosts_entries(_topo())


def lb_nodes():
    """
    The load-balancer nodes: ``hastack:loadbalancer:nodes``, else the nodes with the
    loadbalancer role, else the controllers.

    CLI Example:

    .. code-block:: bash

        salt-call ha_topology.lb_nodes
    """
    return loadbalancer.lb_nodes(_topo())


def neutron_agent_nodes():
    """
    The network nodes that run Neutron's agents (``hastack:services:neutron:agents:nodes``,
    else the nodes with role network), in the order orch.deploy rolls them out; empty when
    the topology has no Neutron.

    CLI Example:

    .. code-block:: bash

        salt-call ha_topology.neutron_agent_nodes
    """
    topo = _topo()
    if "neutron" not in (topo.get("services") or {}):
        return []
    return neutron.agent_nodes(topo)


def mark(name=None):
    """
    The membership mark hastack keeps on this node (the ``hastack`` grain): the cluster's
    name, the parts it runs and their units. A marked minion the pillar no longer names is
    drained by ``salt-run hastack.drain_departed`` (hastack/membership.py).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_topology.mark
    """
    return membership.mark(_topo(), name or __grains__["id"])
