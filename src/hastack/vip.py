"""Facts about VIPs that need no Salt: who holds what, and the gratuitous ARP frame.

A VIP must be held by exactly one node. :func:`holders_report` turns "which VIPs does each
node hold" (gathered from every load balancer) into one verdict per VIP: ``ok``, ``missing``
(nobody answers for it) or ``split-brain`` (two or more nodes answer for it: clients get
whichever ARP reply came last).
"""

import ipaddress
import struct


def holders_report(topo, held_by_node, unreachable=()):
    """``{vip: {"address", "holders", "status"}}`` from ``{node: [vip names it holds]}``.

    ``unreachable`` nodes did not answer; a VIP with no holder among the others is reported
    ``unknown`` rather than ``missing`` if one of them might hold it.
    """
    out = {}
    for name, vip in sorted(topo.get("vips", {}).items()):
        holders = sorted(n for n, held in held_by_node.items() if name in (held or []))
        if len(holders) == 1:
            status = "ok"
        elif len(holders) > 1:
            status = "split-brain"
        elif set(unreachable) & set(vip.get("nodes", [])):
            status = "unknown"
        else:
            status = "missing"
        out[name] = {"address": str(vip["address"]), "holders": holders, "status": status}
    return out


def garp_frame(mac, address):
    """A gratuitous ARP request announcing ``address`` at ``mac`` (``aa:bb:..``), broadcast."""
    hw = bytes(int(b, 16) for b in mac.split(":"))
    if len(hw) != 6:
        raise ValueError("not a MAC address: %r" % mac)
    ip = ipaddress.IPv4Address(address).packed
    ether = b"\xff" * 6 + hw + struct.pack("!H", 0x0806)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + ip + b"\x00" * 6 + ip
    return ether + arp
