"""The lab's shape as data: node names, addresses, the bridge, and the topology pillar for it.

Bridge ``habr0`` in 198.18.10.0/24 (198.18.0.0/15 is reserved for benchmarks, so the lab never
collides with a real network): the host is .1, controllers are numbered from .11, network nodes
from .21 (so a lab grown or shrunk by a controller keeps every other node's address) and VIPs
from .100.
"""

import ipaddress

BRIDGE = "habr0"
SUBNET = ipaddress.IPv4Network("198.18.10.0/24")
HOST = SUBNET.network_address + 1
FIRST_ADDRESS = {"ctl": 11, "net": 21}
MAX_PER_ROLE = 9
FIRST_VIP = 100
NODE_IFACE = "host0"      # the container end of systemd-nspawn's --network-bridge veth
ECHO_PORT = 8080

# Packages the common state insists on, per role; the lab image has them baked in.
PACKAGES = {
    "all": ["iproute2", "curl", "procps", "systemd-timesyncd"],
    "controller": ["haproxy", "keepalived", "mariadb-server", "galera-4", "rsync",
                   "rabbitmq-server"],
    "network": ["keepalived"],
}


def node_names(controllers, network):
    return (["ctl%d" % i for i in range(1, controllers + 1)]
            + ["net%d" % i for i in range(1, network + 1)])


def node_address(name):
    """A lab node's address, from its name alone: ctlN is .(10+N), netN is .(20+N)."""
    prefix, number = name[:3], name[3:]
    if prefix not in FIRST_ADDRESS or number not in [str(n) for n in range(1, MAX_PER_ROLE + 1)]:
        raise ValueError("lab node %r: names are ctl1..ctl%d and net1..net%d"
                         % (name, MAX_PER_ROLE, MAX_PER_ROLE))
    return SUBNET.network_address + FIRST_ADDRESS[prefix] + int(number) - 1


def host_veth(name):
    """The host end of a node's veth, as systemd-nspawn names it."""
    return ("vb-" + name)[:15]


def make_topology(controllers=3, network=2, drbd=False, drbd_manager="hastack"):
    """The ``hastack`` pillar for a lab of ``controllers`` + ``network`` nodes (and with
    ``drbd``, the DRBD VMs: :func:`add_drbd`)."""
    if drbd:
        return add_drbd(make_topology(controllers, network), drbd_manager)
    names = node_names(controllers, network)
    ctls = names[:controllers]
    nodes = {}
    for name in names:
        nodes[name] = {"address": str(node_address(name)),
                       "roles": ["controller"] if name.startswith("ctl") else ["network"]}
    vip = SUBNET.network_address + FIRST_VIP
    galera = {"nodes": list(ctls), "port": 3306, "vip": "db", "mode": "tcp",
              "sst_method": "mariabackup",
              "single_writer": True, "check": {"port": 9200, "path": "/", "expect": 200}}
    if controllers % 2 == 0 and network:
        galera["arbitrator"] = names[controllers]
    # api2 is preferred on the second controller: two active load balancers.
    api2_order = ctls[1:] + ctls[:1]
    topo = {
        "cluster_name": "hastack",
        "network": {"subnet": str(SUBNET), "interface": NODE_IFACE},
        "nodes": nodes,
        "vips": {
            "api": {"address": str(vip), "router_id": 51, "nodes": list(ctls)},
            "db": {"address": str(vip + 1), "router_id": 52, "nodes": list(ctls)},
            "api2": {"address": str(vip + 2), "router_id": 53, "nodes": api2_order},
        },
        "loadbalancer": {"advert_int": 0.05, "haproxy_check": "track_file",
                         "preempt_delay": 5},
        "services": {
            "galera": galera,
            "rabbitmq": {"nodes": list(ctls), "port": 5672, "queues": "quorum",
                         "users": {"openstack": {"vhost": "/"}}},
            # bcrypt cost 4 (Keystone's default is 12): the lab's 2 cores serve three
            # controllers and a load generator; a real site keeps the default.
            "keystone": {"nodes": list(ctls), "port": 5000, "vip": ["api", "api2"],
                         "check": {"path": "/v3", "expect": 200},
                         "retry_paths": ["/v3/auth/tokens"],
                         "password_hash_rounds": 4},
            # A plain HTTP backend the lab runs (state lab.echo) so the load-balancing layer
            # can be tested before any OpenStack API exists.
            "echo": {"nodes": list(ctls), "port": ECHO_PORT, "vip": "api",
                     "check": {"path": "/", "expect": 200}, "unit": "lab-echo"},
        },
        "common": {
            "sysctl": {"net.ipv4.ip_nonlocal_bind": 1},
            "packages": PACKAGES,
            # The lab's bridge has no route to a package mirror: everything is baked in.
            "pkg_refresh": False,
        },
    }
    if network:
        topo["services"]["neutron"] = lab_neutron(ctls, network)
    if controllers >= 2:
        topo["cluster"] = lab_cluster(ctls)
    return topo


def lab_neutron(ctls, network):
    """``hastack:services:neutron`` for the lab: the API and RPC server on the controllers,
    the agents on every network node (the default). The lab's kernel has no Open vSwitch, so
    only the control plane is real: ``network_auto_schedule: false`` keeps a DHCP agent from
    spinning on a network it cannot plug (LAB-NOTES), and networks are scheduled through the
    API. Agents report every 5 s and are dead after 15 s, so a lost network node is seen
    quickly. With one network node routers are not HA (a VRRP pair needs two L3 agents) and
    each network has one DHCP agent."""
    agents = {"network_auto_schedule": False}
    if network < 2:
        agents.update(l3_ha=False, dhcp_agents_per_network=1)
    return {"nodes": list(ctls), "port": 9696, "vip": ["api", "api2"],
            "check": {"path": "/", "expect": 200},
            "workers": 2, "rpc_workers": 1, "report_interval": 5, "agent_down_time": 15,
            "agents": agents}


# The Pacemaker-managed VIP (not in hastack:vips: keepalived must not move it too) and the
# port of the lab unit it carries (lab-vip-echo, from state lab.echo).
CLUSTER_VIP = 110


def lab_cluster(ctls):
    """``hastack:cluster`` for the lab: a Corosync/Pacemaker cluster of the controllers to
    test with. hastack's own reactor manages the lab (``manager: hastack``); Pacemaker has
    the shape of the classic DRBD-backed MySQL with stand-ins the nodes can run: a
    promotable clone (Pacemaker's own ``ocf:pacemaker:Stateful`` where DRBD would be), one
    VIP where it is Promoted and after its promotion, and the small HTTP unit with the VIP.
    The lab has no fence devices (nspawn containers have no power switch Pacemaker could
    reach): it opts out, in those words."""
    return {
        "manager": "hastack",
        "nodes": list(ctls),
        "token": 1000,
        "token_coefficient": 0,
        "dc_deadtime": 2,
        "fencing": "disabled-i-accept-split-brain",
        "resources": {
            "lab-vip": {"vip": str(SUBNET.network_address + CLUSTER_VIP), "monitor": 1},
            "lab-vip-echo": {"systemd": "lab-vip-echo", "monitor": 1},
            "lab-stateful": {"agent": "ocf:pacemaker:Stateful", "promotable": True,
                             "monitor": 1},
        },
        "constraints": [{"colocate": ["lab-vip-echo", "lab-vip"]},
                        {"order": ["lab-vip", "lab-vip-echo"]},
                        {"colocate": ["lab-vip", "lab-stateful"]},
                        {"order": ["lab-stateful", "lab-vip"]}],
    }


# The DRBD VMs (`hastack lab drbd up`): qemu machines on the same bridge, from .31, and the
# address of the MySQL they serve, active on whichever is DRBD Primary.
DRBD_VMS = ("db1", "db2")
FIRST_DRBD_VM = 31
DRBD_SERVICE_ADDRESS = 40


def drbd_vm_address(index):
    return SUBNET.network_address + FIRST_DRBD_VM + index


def add_drbd(topo, manager="hastack"):
    """``topo`` plus the DRBD VMs (role storage) and ``hastack:drbd`` with one resource,
    ``mysql``: MariaDB on /dev/drbd0 over each VM's second disk.

    With ``manager="pacemaker"`` Pacemaker runs it: the VMs are the Corosync/Pacemaker
    cluster (``hastack:cluster``, which then is theirs, not the controllers'; the controllers
    are not deployed while the DRBD tests run). Token 3000 ms: two software-emulated CPUs
    on a busy host miss a 1 s token. No fence device reaches a qemu VM here: it opts out,
    in those words, and DRBD's own resource fencing (crm-fence-peer) still keeps a node
    that missed writes from being promoted."""
    for i, name in enumerate(DRBD_VMS):
        topo["nodes"][name] = {"address": str(drbd_vm_address(i)), "roles": ["storage"]}
    topo["drbd"] = {"resources": {"mysql": {
        "nodes": list(DRBD_VMS), "disk": "/dev/vdb", "device": "/dev/drbd0", "port": 7789,
        "mount": "/srv/mysql", "fs": "ext4", "service": "mariadb",
        "address": str(SUBNET.network_address + DRBD_SERVICE_ADDRESS)}}}
    if manager == "pacemaker":
        topo["drbd"]["resources"]["mysql"]["manager"] = "pacemaker"
        topo["cluster"] = {"manager": "pacemaker", "nodes": list(DRBD_VMS),
                           "token": 3000, "token_coefficient": 0, "dc_deadtime": 5,
                           "fencing": "disabled-i-accept-split-brain"}
    return topo
