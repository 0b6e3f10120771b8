"""
Virtual IPs on this node, read and announced with pyroute2.

Which of the topology's VIPs this node holds, on which link; a gratuitous ARP for a VIP.
The cluster-wide view (a VIP held twice or by nobody) is ``salt-run hastack.vips``.
"""

import socket

try:
    from pyroute2 import IPRoute

    from hastack import vip as vipfacts

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_vip"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_vip: needs pyroute2 and the hastack package in the minion's Python")
    return __virtualname__


def _addresses():
    """``{address: link name}`` of every IPv4 address on this node."""
    with IPRoute() as ipr:
        links = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        return {msg.get_attr("IFA_ADDRESS"): links.get(msg["index"])
                for msg in ipr.get_addr(family=socket.AF_INET)}


def held():
    """
    The topology's VIPs this node holds: ``{vip name: {"address": ..., "link": ...}}``.

    CLI Example:

    .. code-block:: bash

        salt -C 'G@roles:controller' ha_vip.held
    """
    present = _addresses()
    vips = __salt__["ha_topology.get"]().get("vips", {})
    return {name: {"address": str(v["address"]), "link": present[str(v["address"])]}
            for name, v in sorted(vips.items()) if str(v["address"]) in present}


def garp(name):
    """
    Send a gratuitous ARP for a VIP this node holds (``name`` is the VIP's name or address),
    so switches and neighbours learn where it is now.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_vip.garp api
    """
    vips = __salt__["ha_topology.get"]().get("vips", {})
    address = str(vips[name]["address"]) if name in vips else name
    link = _addresses().get(address)
    if link is None:
        return {"result": False, "comment": "%s is not held by this node" % address}
    with IPRoute() as ipr:
        mac = ipr.get_links(ifname=link)[0].get_attr("IFLA_ADDRESS")
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((link, 0))
        sock.send(vipfacts.garp_frame(mac, address))
    return {"result": True, "comment": "gratuitous ARP sent for %s on %s" % (address, link)}
