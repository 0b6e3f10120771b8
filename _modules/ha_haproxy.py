"""
haproxy in front of the topology's services: the rendered config and the live backend state.

The rendering is :mod:`hastack.loadbalancer`; the ``ha_haproxy.configured`` state writes the
files after ``haproxy -c`` accepted the config.
"""

import socket

try:
    from hastack import loadbalancer

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_haproxy"

FILES = (loadbalancer.HAPROXY_CFG, loadbalancer.HAPROXY_DROPIN) if HAS_HASTACK else ()


def __virtual__():
    if not HAS_HASTACK:
        return (False, "ha_haproxy: the hastack package is not importable by this minion's "
                       "Python; install it there (salt-pip install hastack)")
    return __virtualname__


def render():
    """
    haproxy.cfg as hastack renders it for this node.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_haproxy.render
    """
    return loadbalancer.render_haproxy(__salt__["ha_topology.get"](), __grains__["id"])


def files():
    """
    Every haproxy file hastack manages on this node: ``{path: [text, mode]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_haproxy.files
    """
    wanted = loadbalancer.files(__salt__["ha_topology.get"](), __grains__["id"])
    return {path: list(wanted[path]) for path in FILES}


def _socket_command(command, path=None, timeout=2):
    path = path or loadbalancer.HAPROXY_SOCKET
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


def backends():
    """
    The state of every backend server from haproxy's admin socket:
    ``{backend: {server: "UP"|"DOWN"|...}}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_haproxy.backends
    """
    return loadbalancer.parse_stat_csv(_socket_command("show stat"))


def drain(server):
    """
    Stop sending new connections to ``server`` in every backend that has it (haproxy's
    ``drain`` state: established sessions finish). Returns the backends changed.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_haproxy.drain ctl4
    """
    changed = []
    for backend, servers in backends().items():
        if server in servers:
            out = _socket_command("set server %s/%s state drain" % (backend, server)).strip()
            if out:
                return {"result": False, "comment": "%s/%s: %s" % (backend, server, out)}
            changed.append(backend)
    return {"result": True, "comment": "draining %s in %s" % (server, ", ".join(changed))
            if changed else "%s is in no backend here" % server, "backends": changed}
