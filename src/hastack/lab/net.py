"""The lab's network: the bridge and the nftables table that cuts a node off (partition).

Partitions are made in the host's ``bridge`` family, the layer where frames between nodes
and the host cross: a node's veth (``vb-<name>``) in the ``cut`` set has every frame from or
to it dropped, whether bound for another node or for the salt-master on the host.
"""

import json

from hastack.lab import layout
from hastack.lab.proc import run

TABLE = "hastack_lab"

RULESET = """\
table bridge {table} {{
    set cut {{ type ifname; }}
    chain forward {{ type filter hook forward priority 0; policy accept;
        iifname @cut drop
        oifname @cut drop
    }}
    chain input {{ type filter hook input priority 0; policy accept;
        iifname @cut drop
    }}
    chain output {{ type filter hook output priority 0; policy accept;
        oifname @cut drop
    }}
}}
"""


def ruleset():
    return RULESET.format(table=TABLE)


def _links():
    return {link["ifname"]: link for link in json.loads(run(["ip", "-j", "link", "show"]))}


def ensure_bridge():
    """Create and address the bridge (host at .1) and the partition table, if missing."""
    links = _links()
    if layout.BRIDGE not in links:
        run(["ip", "link", "add", layout.BRIDGE, "type", "bridge"])
    host = "%s/%d" % (layout.HOST, layout.SUBNET.prefixlen)
    addrs = json.loads(run(["ip", "-j", "addr", "show", "dev", layout.BRIDGE]))
    have = {"%s/%d" % (a["local"], a["prefixlen"]) for i in addrs for a in i.get("addr_info", [])
            if a.get("family") == "inet"}
    if host not in have:
        run(["ip", "addr", "add", host, "dev", layout.BRIDGE])
    run(["ip", "link", "set", layout.BRIDGE, "up"])
    if run(["nft", "list", "tables", "bridge"]).find(TABLE) < 0:
        run(["nft", "-f", "-"], input=ruleset())


def remove_bridge():
    if run(["nft", "list", "tables", "bridge"]).find(TABLE) >= 0:
        run(["nft", "delete", "table", "bridge", TABLE])
    if layout.BRIDGE in _links():
        run(["ip", "link", "delete", layout.BRIDGE])


def remove_veth(name):
    """Delete the host end of a node's veth if it outlived the node.

    A killed node's network namespace is freed only when nothing holds it; orphaned TCP
    sockets (a FIN to a peer that is gone) can hold it for minutes, and with it ``vb-<name>``,
    which then stops systemd-nspawn from creating the node's veth again. Deleting one end of a
    veth deletes both.
    """
    veth = layout.host_veth(name)
    if veth in _links():
        run(["ip", "link", "delete", veth])


def leftovers():
    """What of the lab's network exists now (after a session ended, it stays behind)."""
    found = [layout.BRIDGE] if layout.BRIDGE in _links() else []
    if run(["nft", "list", "tables", "bridge"]).find(TABLE) >= 0:
        found.append("nft table bridge " + TABLE)
    return found


def cut_links():
    """Host veth names currently cut off."""
    try:
        out = json.loads(run(["nft", "-j", "list", "set", "bridge", TABLE, "cut"]))
    except Exception:
        return set()
    for item in out.get("nftables", []):
        if "set" in item:
            return set(item["set"].get("elem", []))
    return set()


def partition(name):
    run(["nft", "add", "element", "bridge", TABLE, "cut", "{ %s }" % layout.host_veth(name)])


def heal(name):
    if layout.host_veth(name) in cut_links():
        run(["nft", "delete", "element", "bridge", TABLE, "cut",
             "{ %s }" % layout.host_veth(name)])

