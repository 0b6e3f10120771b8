"""
keepalived for the topology's VIPs: the files hastack renders for this node.

The rendering is :mod:`hastack.loadbalancer`; the ``ha_keepalived.configured`` state writes
the files after ``keepalived -t`` accepted the config.
"""

try:
    from hastack import loadbalancer

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_keepalived"

FILES = (loadbalancer.KEEPALIVED_CONF, loadbalancer.KEEPALIVED_DROPIN,
         loadbalancer.RELEASE_SCRIPT, loadbalancer.NOTIFY_SCRIPT) if HAS_HASTACK else ()


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_keepalived: the hastack package is not importable by this minion's "
                       "Python; install it there (salt-pip install hastack)")
    return __virtualname__


def render():
    """
    keepalived.conf as hastack renders it for this node.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keepalived.render
    """
    return loadbalancer.render_keepalived(__salt__["ha_topology.get"](), __grains__["id"])


def files():
    """
    Every keepalived file hastack manages on this node: ``{path: [text, mode]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keepalived.files
    """
    wanted = loadbalancer.files(__salt__["ha_topology.get"](), __grains__["id"])
    return {path: list(wanted[path]) for path in FILES}
