"""Neutron (OpenStack networking): an active/active API, agents on the network nodes that
survive the loss of one, and restarts that never take the last live agent of a kind away.

The pillar (``hastack:services:neutron``)::

    neutron:
      nodes: [ctl1, ctl2, ctl3]        # controllers: the API (gunicorn), neutron-rpc-server
      port: 9696                       # and neutron-periodic-workers
      vip: api2                        # haproxy frontend; the catalog names it
      check: {path: /, expect: 200}
      workers: 2                       # gunicorn workers per controller
      rpc_workers: 1
      report_interval: 30              # agents' heartbeat (s) ...
      agent_down_time: 75              # ... and when the server calls an agent dead (s)
      rabbit_user: openstack           # a user of hastack:services:rabbitmq:users
      agents:
        nodes: [net1, net2]            # default: the nodes with role network
        mode: active_active            # or active_passive
        l3_ha: true                    # active_passive: false
        max_l3_agents_per_router: 2
        dhcp_agents_per_network: 2     # active_passive: 1
        network_auto_schedule: true    # false keeps a DHCP agent without OVS quiet (lab)
        metadata_host: 198.18.10.100   # nova's metadata API; default: nova's VIP, else ours
        metadata_port: 8775

Secrets: ``neutron_db_password``, ``neutron_service_password`` (the Keystone user
``neutron``), ``neutron_metadata_secret``; the RabbitMQ password is
``hastack:secrets:rabbitmq_users:<rabbit_user>``.

How it is made highly available:

- The API is stateless (``neutron.wsgi.api:application`` under gunicorn on each controller's
  own address, behind haproxy on the VIP). The database is Galera through the database VIP,
  with retries and causal reads (``galera.client_sync_wait``); the message bus is every
  RabbitMQ member in ``transport_url`` with quorum queues.
- Agents (L3, DHCP, metadata) run on the network nodes. ``active_active``: every node runs
  all three; routers are HA (keepalived VRRP between ``max_l3_agents_per_router`` L3 agents)
  and each network is served by ``dhcp_agents_per_network`` DHCP agents, so losing a node
  loses no router or DHCP server. ``active_passive`` (the seeds' Pacemaker layout): one node
  runs the agent group at a time (:func:`passive_role`, :func:`group_keeper`); its units are
  never enabled, so a node that comes back does not start a second group. When the node is
  lost hastack starts the group on the next answering network node, moves the routers and
  networks to its new agents (:func:`reschedule_plan`) and deletes the old node's agent
  records; a failover recreates every router namespace, as the seeds warn.
- When a network node is lost, hastack's healing moves its routers and networks
  (:func:`reschedule_plan`), not Neutron's ``allow_automatic_*_failover``: the move is in
  the heal log, it is not attempted while every agent is silent (the RPC server or the bus
  is out, not the agents), and the periodic workers' own failover, racing it, removes a
  network from the dead agent even when no other agent will take it (the lab saw it).
- A restart (an upgrade, a config change) goes one network node at a time
  (:func:`rolling_plan`). Before each node: :func:`restart_blockers` must be empty (another
  host has a live agent of every kind this node runs). After it: wait until
  :func:`waiting_for` is empty: the node's agents are alive AND started after the restart,
  because ``alive`` stays true for up to ``agent_down_time`` after an agent died.
- When a network node is lost, :func:`reschedule_plan` says which routers and networks go
  where; :func:`describe` gives the heal log one line per action. Agent units use
  ``KillMode=process``: dnsmasq, keepalived and haproxy outlive an agent restart.

Pure: the topology and Neutron's API answers in, config text and plans out.
"""

import datetime
import urllib.parse

from hastack import galera, keystone, loadbalancer, rabbitmq, topology

VENV = "/opt/neutron"
CONF_DIR = "/etc/neutron"
CONF = CONF_DIR + "/neutron.conf"
ML2_CONF = CONF_DIR + "/plugins/ml2/ml2_conf.ini"
L3_CONF = CONF_DIR + "/l3_agent.ini"
DHCP_CONF = CONF_DIR + "/dhcp_agent.ini"
METADATA_CONF = CONF_DIR + "/metadata_agent.ini"
WSGI_DIR = VENV + "/hastack"
WSGI = WSGI_DIR + "/neutron_wsgi.py"
STATE_DIR = "/var/lib/neutron"
USER = "neutron"
MANAGED = loadbalancer.MANAGED
ROOT_HELPER = "env"     # the agents run as root (LAB-NOTES, "Neutron from PyPI")
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MODES = ("active_active", "active_passive")
SECRETS = ("neutron_db_password", "neutron_service_password", "neutron_metadata_secret")
L3, DHCP, METADATA = "L3 agent", "DHCP agent", "Metadata agent"
KINDS = (L3, DHCP, METADATA)

DEFAULTS = {
    "region": None,                  # default: Keystone's region
    "workers": 2,
    "rpc_workers": 1,
    "report_interval": 30,
    "agent_down_time": 75,
    "rabbit_user": "openstack",
    "db_name": "neutron",
    "db_user": "neutron",
    "vni_ranges": "1:1000",
}
AGENT_DEFAULTS = {
    "mode": "active_active",
    "l3_ha": True,
    "max_l3_agents_per_router": 2,
    "dhcp_agents_per_network": 2,
    "network_auto_schedule": True,
    "metadata_host": None,
    "metadata_port": 8775,
}
# One agent of each kind at a time: no VRRP pair, one DHCP server per network.
PASSIVE_DEFAULTS = {"l3_ha": False, "dhcp_agents_per_network": 1}

SERVER_UNITS = ("neutron-api", "neutron-rpc-server", "neutron-periodic-workers")
AGENT_UNITS = ("neutron-l3-agent", "neutron-dhcp-agent", "neutron-metadata-agent")
AGENT_INI = {"neutron-l3-agent": L3_CONF, "neutron-dhcp-agent": DHCP_CONF,
             "neutron-metadata-agent": METADATA_CONF}
UNIT_OF_KIND = {L3: "neutron-l3-agent", DHCP: "neutron-dhcp-agent",
                METADATA: "neutron-metadata-agent"}
UNIT_DIR = "/etc/systemd/system"

WSGI_WRAPPER = '''\
# %s
# Neutron parses sys.argv for its own options; under gunicorn it holds gunicorn's.
import os
import sys

sys.argv = sys.argv[:1]
os.environ["OS_NEUTRON_CONFIG_DIR"] = "%s"
os.environ["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;plugins/ml2/ml2_conf.ini"

from neutron.wsgi.api import application  # noqa: E402,F401
''' % (MANAGED, CONF_DIR)


# -- settings ------------------------------------------------------------------------------

def settings(topo):
    """``hastack:services:neutron`` with defaults filled in, ``agents`` included."""
    svc = topo["services"]["neutron"]
    out = dict(DEFAULTS, **svc)
    if out["region"] is None:
        ks = topo["services"].get("keystone")
        out["region"] = keystone.settings(topo)["region"] if ks else "RegionOne"
    out["agents"] = _agent_settings(topo, svc.get("agents") or {})
    return out


def _agent_settings(topo, given):
    """``agents`` with defaults: the mode's, then the network nodes, then the pillar's."""
    agents = dict(AGENT_DEFAULTS, nodes=topology.nodes_with_role(topo, "network"))
    if given.get("mode") == "active_passive":
        agents.update(PASSIVE_DEFAULTS)
    agents.update(given)
    return agents


def _addr(topo, node):
    return str(topo["nodes"][node]["address"])


def _vip_addr(topo, svc):
    return str(topo["vips"][loadbalancer.service_vips(svc)[0]]["address"])


def server_nodes(topo):
    return list(topo["services"]["neutron"]["nodes"])


def agent_nodes(topo):
    return list(settings(topo)["agents"]["nodes"])


def concurrent_agents(topo):
    """How many agents of a kind run at once: every agent node, or one (active_passive)."""
    return 1 if passive(topo) else len(agent_nodes(topo))


def passive(topo):
    """Does one network node at a time run the agents (``agents:mode: active_passive``)?"""
    return settings(topo)["agents"]["mode"] == "active_passive"


def units(topo, node):
    """The systemd units hastack keeps running for Neutron on ``node``, in a stable order.
    In ``active_passive`` the agents are not among them: they run on one node, on purpose
    stopped on the others (:func:`passive_role`)."""
    out = []
    if node in server_nodes(topo):
        out += SERVER_UNITS
    if node in agent_nodes(topo) and not passive(topo):
        out += AGENT_UNITS
    return out


def local_url(topo, node):
    """This controller's own Neutron API, bypassing the load balancer (health checks)."""
    return "http://%s:%d/" % (_addr(topo, node), topo["services"]["neutron"]["port"])


def api_url(topo):
    """The Networking API on its VIP, as the catalog names it (never a node)."""
    return keystone.endpoint_url(topo, "neutron").rstrip("/")


def database_spec(topo):
    """Neutron's database: ``{"name", "user", "host"}`` (the grant's host pattern)."""
    cfg = settings(topo)
    return {"name": cfg["db_name"], "user": cfg["db_user"],
            "host": keystone.db_client_host(topo)}


def db_manage_argv(*args):
    """``neutron-db-manage`` with the server's config files."""
    return ["%s/bin/neutron-db-manage" % VENV, "--config-file", CONF,
            "--config-file", ML2_CONF] + list(args)


def db_at_head(current):
    """Is the schema at every head, by the text of ``neutron-db-manage current``? Each
    revision line starts with the revision id; one at a head says ``(head)``. No revision
    line at all (an empty database) is not at head."""
    revisions = [line for line in current.splitlines()
                 if line.split() and len(line.split()[0]) >= 12
                 and all(c in "0123456789abcdef" for c in line.split()[0])]
    return bool(revisions) and all("(head)" in line for line in revisions)


# -- config text ---------------------------------------------------------------------------

def db_url(topo):
    """SQLAlchemy URL of Neutron's database, through the database VIP (one writer)."""
    cfg = settings(topo)
    return galera.client_url(topo, cfg["db_user"], topo["secrets"]["neutron_db_password"],
                             cfg["db_name"])


def transport_url(topo):
    """Every RabbitMQ member, so a client reconnects to another when one goes."""
    cfg = settings(topo)
    user = rabbitmq.users(topo)[cfg["rabbit_user"]]
    mq = topo["services"]["rabbitmq"]
    cred = "%s:%s" % (urllib.parse.quote(cfg["rabbit_user"], safe=""),
                      urllib.parse.quote(user["password"] or "", safe=""))
    hosts = ",".join("%s@%s:%d" % (cred, _addr(topo, n), mq["port"]) for n in mq["nodes"])
    vhost = user["vhost"]
    return "rabbit://%s/%s" % (hosts, "" if vhost == "/" else urllib.parse.quote(vhost, safe=""))


def metadata_host(topo):
    """Nova's metadata API: ``agents:metadata_host``, else nova's VIP, else Neutron's."""
    host = settings(topo)["agents"]["metadata_host"]
    if host:
        return str(host)
    nova = topo["services"].get("nova") or {}
    svc = nova if loadbalancer.service_vips(nova) else topo["services"]["neutron"]
    return _vip_addr(topo, svc)


def _common_lines(topo):
    """[DEFAULT] lines every Neutron process shares (server and agents)."""
    return [
        "# " + MANAGED,
        "[DEFAULT]",
        "# Logs go to the journal.",
        "use_stderr = true",
        "state_path = %s" % STATE_DIR,
        "# Every RabbitMQ member: a client moves to another when one goes.",
        "transport_url = %s" % transport_url(topo),
    ]


def _tail_lines(topo):
    """The sections after [DEFAULT] every Neutron process shares."""
    quorum = topo["services"]["rabbitmq"].get("queues", "quorum") == "quorum"
    return [
        "",
        "[oslo_messaging_rabbit]",
        "rabbit_quorum_queue = %s" % ("true" if quorum else "false"),
        "",
        "[agent]",
        "root_helper = %s" % ROOT_HELPER,
        "report_interval = %d" % settings(topo)["report_interval"],
        "",
        "[oslo_concurrency]",
        "lock_path = %s/lock" % STATE_DIR,
    ]


def _oslo(value):
    """A value as oslo.config reads it back: ``$`` starts a substitution, ``$$`` is one."""
    return str(value).replace("$", "$$")


def _bool(value):
    return "true" if value else "false"


def _scheduling_lines(cfg):
    agents = cfg["agents"]
    return [
        "# Agents are dead agent_down_time after their last report. hastack's healing then",
        "# moves a lost node's routers and networks (heal log; nothing while every agent",
        "# is silent, which is the server or the bus); the periodic workers' own failover",
        "# would race it, and drops a network it cannot place elsewhere.",
        "agent_down_time = %d" % cfg["agent_down_time"],
        "l3_ha = %s" % _bool(agents["l3_ha"]),
        "max_l3_agents_per_router = %d" % agents["max_l3_agents_per_router"],
        "dhcp_agents_per_network = %d" % agents["dhcp_agents_per_network"],
        "allow_automatic_l3agent_failover = false",
        "allow_automatic_dhcp_failover = false",
        "network_auto_schedule = %s" % _bool(agents["network_auto_schedule"]),
    ]


def _database_lines(topo):
    return [""] + galera.client_config(topo, db_url(topo))


def _authtoken_lines(topo, cfg):
    url = keystone.auth_url(topo)
    return [
        "",
        "[keystone_authtoken]",
        "www_authenticate_uri = %s" % url,
        "auth_url = %s" % url,
        "auth_type = password",
        "project_domain_name = Default",
        "user_domain_name = Default",
        "project_name = service",
        "username = neutron",
        "password = %s" % _oslo(topo["secrets"]["neutron_service_password"]),
        "region_name = %s" % cfg["region"],
    ]


def render_server_config(topo, node):
    """neutron.conf for a controller (API, RPC server, periodic workers)."""
    cfg = settings(topo)
    nova = "nova" in topo["services"]
    lines = _common_lines(topo) + [
        "core_plugin = ml2",
        "service_plugins = router",
        "auth_strategy = keystone",
        "# The paste pipeline pip installed with the venv.",
        "api_paste_config = %s/etc/neutron/api-paste.ini" % VENV,
        "rpc_workers = %d" % cfg["rpc_workers"],
        "rpc_state_report_workers = 1",
        "notify_nova_on_port_status_changes = %s" % _bool(nova),
        "notify_nova_on_port_data_changes = %s" % _bool(nova),
    ] + _scheduling_lines(cfg)
    lines += _database_lines(topo) + _authtoken_lines(topo, cfg) + _tail_lines(topo)
    lines += ["", "[oslo_middleware]", "enable_proxy_headers_parsing = true", ""]
    return "\n".join(lines)


def render_agent_base_config(topo, node):
    """neutron.conf for a node that runs agents only: the bus, no database, no Keystone."""
    return "\n".join(_common_lines(topo) + _tail_lines(topo) + [""])


def render_ml2_config(topo):
    """plugins/ml2/ml2_conf.ini: ML2 with Open vSwitch, VXLAN project networks."""
    return "\n".join([
        "# " + MANAGED,
        "[ml2]",
        "type_drivers = flat,vxlan",
        "tenant_network_types = vxlan",
        "mechanism_drivers = openvswitch",
        "extension_drivers = port_security",
        "",
        "[ml2_type_flat]",
        "flat_networks = *",
        "",
        "[ml2_type_vxlan]",
        "vni_ranges = %s" % settings(topo)["vni_ranges"],
        "",
    ])


def _ini(*lines):
    return "\n".join(("# " + MANAGED, "[DEFAULT]") + lines +
                     ("", "[agent]", "root_helper = %s" % ROOT_HELPER, ""))


def render_agent_configs(topo, node):
    """``{path: text}``: l3_agent.ini, dhcp_agent.ini, metadata_agent.ini for ``node``."""
    agents = settings(topo)["agents"]
    return {
        L3_CONF: _ini("interface_driver = openvswitch"),
        DHCP_CONF: _ini("interface_driver = openvswitch",
                        "# Metadata for networks without a router.",
                        "enable_isolated_metadata = true"),
        METADATA_CONF: _ini("nova_metadata_host = %s" % metadata_host(topo),
                            "nova_metadata_port = %d" % agents["metadata_port"],
                            "metadata_proxy_shared_secret = %s"
                            % _oslo(topo["secrets"]["neutron_metadata_secret"])),
    }


# -- systemd units -------------------------------------------------------------------------

def unit_path(name):
    return "%s/%s.service" % (UNIT_DIR, name)


def _config_args(*paths):
    return " ".join("--config-file %s" % p for p in paths)


def _exec_start(topo, node, name):
    if name == "neutron-api":
        return ("%s/bin/gunicorn --no-control-socket --bind %s:%d --workers %d --timeout 120 "
                "--graceful-timeout 10 --pythonpath %s neutron_wsgi:application"
                % (VENV, _addr(topo, node), topo["services"]["neutron"]["port"],
                   settings(topo)["workers"], WSGI_DIR))
    if name in SERVER_UNITS:
        return "%s/bin/%s %s" % (VENV, name, _config_args(CONF, ML2_CONF))
    return "%s/bin/%s %s" % (VENV, name, _config_args(CONF, AGENT_INI[name]))


def render_unit(topo, node, name):
    """The systemd unit ``name`` (one of SERVER_UNITS or AGENT_UNITS) for ``node``."""
    agent = name in AGENT_UNITS
    lines = [
        "# " + MANAGED,
        "[Unit]",
        "Description=OpenStack Networking %s, hastack" % name,
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "User=%s" % ("root" if agent else USER),
        "Group=%s" % ("root" if agent else USER),
        "ExecStart=%s" % _exec_start(topo, node, name),
        "Restart=on-failure",
        "RestartSec=1",
        "TimeoutStopSec=30",
    ]
    if agent:
        lines += ["# dnsmasq, keepalived and haproxy outlive an agent restart.",
                  "KillMode=process",
                  "# root_helper is env: the privsep helper and the state-change helper the",
                  "# agents start are found in the venv (else env exits 127: privsep fails).",
                  "Environment=PATH=%s/bin:%s" % (VENV, SYSTEM_PATH)]
    else:
        # The state sets the same mode: systemd applies it at every start.
        lines += ["StateDirectory=neutron", "StateDirectoryMode=0750", "KillMode=mixed",
                  "# When a controller's CPU is short (its boot: every Python service",
                  "# importing at once), the database, the bus and Keystone, which",
                  "# Neutron needs, come first.",
                  "CPUWeight=25"]
    return "\n".join(lines + ["", "[Install]", "WantedBy=multi-user.target", ""])


def files(topo, node):
    """Every file Neutron needs on ``node``: ``{path: (text, mode, check, group)}``."""
    out = {}
    if node in server_nodes(topo):
        out[CONF] = (render_server_config(topo, node), 0o640, None, USER)
        out[ML2_CONF] = (render_ml2_config(topo), 0o640, None, USER)
        out[WSGI] = (WSGI_WRAPPER, 0o644, None, None)
        for name in SERVER_UNITS:
            out[unit_path(name)] = (render_unit(topo, node, name), 0o644, None, None)
    if node in agent_nodes(topo):
        out.setdefault(CONF, (render_agent_base_config(topo, node), 0o600, None, None))
        for path, text in render_agent_configs(topo, node).items():
            out[path] = (text, 0o600, None, None)
        for name in AGENT_UNITS:
            out[unit_path(name)] = (render_unit(topo, node, name), 0o644, None, None)
    return out


# -- rolling restart -----------------------------------------------------------------------

def parse_time(text):
    """A Neutron timestamp (``2026-11-23 10:01:02``, ISO with ``T``, optional zone) as an
    aware UTC datetime; no zone means UTC. Raises ValueError for anything else."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("not a timestamp: %r" % (text,))
    value = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return _utc(value)


def _utc(value):
    if value.tzinfo is None:
        return value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def host_of(agent):
    """The node ``agent`` runs on: Neutron's host may be the FQDN."""
    return str(agent.get("host", "")).split(".")[0]


def on_host(agent, node):
    """Is ``agent`` on ``node``?"""
    return host_of(agent) == node


def live(agent):
    """Alive and not disabled by an operator."""
    return agent.get("alive") is True and agent.get("admin_state_up", True) is not False


def live_elsewhere(agents, host):
    """Does an agent on another host than ``host`` report alive?"""
    return any(a.get("alive") is True and not on_host(a, host) for a in agents)


def agent_back(agent, since):
    """True when ``agent`` is alive and started after ``since`` (a naive datetime is UTC)."""
    if agent.get("alive") is not True:
        return False
    try:
        return parse_time(agent.get("started_at")) > _utc(since)
    except ValueError:
        return False


def restart_blockers(node, agents, kinds=KINDS):
    """Why stopping ``node`` now would leave a kind of agent it runs with no live agent on
    another host (live: ``alive`` and not disabled). Empty: safe to restart."""
    reasons = []
    for kind in kinds:
        if not any(a.get("agent_type") == kind and on_host(a, node) for a in agents):
            continue
        others = [a for a in agents if a.get("agent_type") == kind and not on_host(a, node)]
        if not any(live(a) for a in others):
            down = sorted(str(a.get("host")) for a in others)
            reasons.append("%s: no live %s on another host (%s)" % (
                node, kind, "down: " + ", ".join(down) if down else "none runs elsewhere"))
    return reasons


def rolling_plan(nodes, agents):
    """The order to restart ``nodes`` in, one at a time: nodes with a dead agent first (their
    restart is a repair and takes nothing live away), then pillar order. Before each step
    the caller checks :func:`restart_blockers`; after it, waits for :func:`waiting_for`."""
    def has_dead(node):
        return any(on_host(a, node) and not live(a) for a in agents)
    return sorted(nodes, key=lambda n: (not has_dead(n), list(nodes).index(n)))


def waiting_for(node, agents, since, kinds=KINDS):
    """The kinds of agent not yet back on ``node`` after a restart at ``since``."""
    return [kind for kind in kinds
            if not any(a.get("agent_type") == kind and on_host(a, node) and agent_back(a, since)
                       for a in agents)]


def dead_hosts(agents):
    """``{host: [kinds of its dead agents]}`` for every host with an agent that is not alive
    (a disabled agent is the operator's, not dead)."""
    out = {}
    for a in agents:
        if a.get("alive") is not True and a.get("admin_state_up", True) is not False:
            out.setdefault(host_of(a), []).append(a.get("agent_type"))
    return {h: sorted(k for k in kinds if k) for h, kinds in sorted(out.items())}


# An agent process's start to its first report, at most (on the lab's busy 2-core host the
# DHCP agent needed up to 37 s; the rollout waits 120 s for a restarted node's agents).
AGENT_START_S = 60


def hung_grace(cfg):
    """Seconds after its unit started before an agent the API calls dead counts as hung
    (healing restarts it): its first report may take :data:`AGENT_START_S`, then the server
    waits ``agent_down_time`` before calling it dead. A younger unit is starting (a rollout's
    or a boot's restart): restarting it again would only start it over."""
    return cfg["agent_down_time"] + AGENT_START_S


# -- active_passive: one network node runs the agent group ----------------------------------

_NEVER = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def _started(agent):
    try:
        return parse_time(agent.get("started_at"))
    except ValueError:
        return _NEVER


def group_keeper(nodes, agents, alive=True):
    """``active_passive``: the node that keeps the agent group. Of the ``nodes`` with a live
    agent, the one with the most kinds of the group live, then the one whose agents started
    last: hastack started them there when it moved the group, so an older holder is a node
    that came back (or was cut off) and must yield. Counting the kinds first keeps a whole
    group ahead of a lone agent that re-registered (with a new start time) while its node
    was handing the group over (seen in a CI-like run: the group flipped to the node that
    was stopping). Ties go to pillar order. None when no node has a live agent. With
    ``alive=False`` dead agents count too: the last node that ran the group (after a power
    loss of every node)."""
    nodes = list(nodes)

    def counted(a, n):
        return on_host(a, n) and (live(a) or not alive)
    holders = [n for n in nodes if any(counted(a, n) for a in agents)]
    if not holders:
        return None
    return max(holders, key=lambda n: (
        len({a.get("agent_type") for a in agents if counted(a, n)}),
        max(_started(a) for a in agents if counted(a, n)), -nodes.index(n)))


def passive_role(node, nodes, agents, running_here):
    """``active_passive``, at a deploy: ``("active" | "standby", why)`` for ``node``'s agent
    group. The keeper (:func:`group_keeper`) stays active and every other node stands by.
    With no live agent anywhere, a node whose agents run (started, not reporting yet) stays
    active; else the last node that ran the group (its routers and networks are there), or
    with none the first agent node in pillar order, starts it. Healing moves the group when
    its node is lost (``heal``: ``neutron_failover``)."""
    nodes = list(nodes)
    keeper = group_keeper(nodes, agents)
    if keeper == node:
        return "active", "its agents are live"
    if keeper:
        return "standby", "the agents run on %s" % keeper
    if running_here:
        return "active", "its agents run (not reporting yet) and none is live elsewhere"
    last = group_keeper(nodes, agents, alive=False)
    first = last or nodes[0]
    why = ("%s ran the agents last" % last if last
           else "no node ran the agents; %s is the first agent node" % first)
    return ("active" if node == first else "standby"), "no agent is live; " + why


# -- rescheduling after the loss of a network node ------------------------------------------

def _reschedule(kind, resource, dead_host, agents, by_agent, limit, single=()):
    """Actions for one kind of agent (see :func:`reschedule_plan`)."""
    mine = [a for a in agents if a.get("agent_type") == kind]
    dead = sorted((a for a in mine if on_host(a, dead_host)), key=lambda a: a["id"])
    others = [a for a in mine if live(a) and not on_host(a, dead_host)]
    load = {a["id"]: len(by_agent.get(a["id"], [])) for a in others}
    host = {a["id"]: host_of(a) for a in mine}
    lost = sorted({r for a in dead for r in by_agent.get(a["id"], [])})
    actions = []
    for rid in lost:
        wanted = 1 if rid in single else limit
        hosts = {host[aid] for aid, rs in by_agent.items()
                 if rid in rs and aid in host}
        live_hosts = {host[a["id"]] for a in others if rid in by_agent.get(a["id"], [])}
        free = sorted((a for a in others if host[a["id"]] not in hosts),
                      key=lambda a: (load[a["id"]], host[a["id"]], a["id"]))
        removes = [{"action": "remove_" + resource, resource: rid, "agent": a["id"],
                    "host": host[a["id"]]} for a in dead if rid in by_agent.get(a["id"], [])]
        add = []
        if len(live_hosts) < wanted and free:
            pick = free[0]
            load[pick["id"]] += 1
            live_hosts.add(host[pick["id"]])
            add = [{"action": "add_" + resource, resource: rid, "agent": pick["id"],
                    "host": host[pick["id"]]}]
        if not live_hosts:
            actions.append({"action": "stranded", "kind": resource, "resource": rid})
            continue
        if len(live_hosts) < wanted and not free:
            actions.append({"action": "degraded", "kind": resource, "resource": rid,
                            "hosts": sorted(live_hosts), "wanted": wanted})
        # Neutron hosts a legacy router on one L3 agent only: off the dead one first.
        actions.extend(removes + add if rid in single else add + removes)
    return actions


def reschedule_plan(dead_host, agents, routers_by_agent, networks_by_agent,
                    max_l3_agents_per_router, dhcp_agents_per_network, legacy_routers=()):
    """What to do when ``dead_host`` is lost (or, ``active_passive``, when the agent group
    leaves it: its agents may still be alive, they are stopped): a list of actions, routers
    then networks, each sorted by id.

    Every router of an L3 agent on ``dead_host`` is added (``add_router``) to the least
    loaded live L3 agent on a host that does not host it yet (ties: host name, agent id)
    unless it already runs on ``max_l3_agents_per_router`` live hosts, then removed from the
    dead agent (``remove_router``). A router in ``legacy_routers`` (not HA) has one L3 agent:
    it is removed from the dead agent first, then added, as Neutron accepts no second one.
    Networks and DHCP agents the same, with ``dhcp_agents_per_network``. With no live host
    left and no candidate: ``stranded`` (it stays on the dead agent, to come back with its
    host; alert). Still served, but by fewer live hosts than wanted and no candidate:
    ``degraded``. ``*_by_agent`` map an agent id to the router or network ids it hosts.
    """
    return (_reschedule(L3, "router", dead_host, agents, routers_by_agent,
                        max_l3_agents_per_router, set(legacy_routers)) +
            _reschedule(DHCP, "network", dead_host, agents, networks_by_agent,
                        dhcp_agents_per_network))


def describe(action):
    """One line for a rescheduling action (the heal log)."""
    kind = action["action"]
    agent = {"router": L3, "network": DHCP}
    if kind.startswith(("add_", "remove_")):
        verb, res = kind.split("_", 1)
        where = "to the" if verb == "add" else "from the dead"
        return "%s %s %s %s %s %s on %s" % (verb, res, action[res], where, agent[res],
                                           action["agent"], action["host"])
    if kind == "stranded":
        return "%s %s has no live %s left and none can take it: it is down" % (
            action["kind"], action["resource"], agent[action["kind"]])
    return "%s %s runs on %d live host(s) (%s), fewer than %d, and no other live %s can " \
           "take it" % (action["kind"], action["resource"], len(action["hosts"]),
                        ", ".join(action["hosts"]), action["wanted"], agent[action["kind"]])


# -- validation ----------------------------------------------------------------------------

FIELD = "hastack:services:neutron"


def _check_dependencies(services, svc, errors):
    if not loadbalancer.service_vips(svc):
        errors.append("%s:vip: Neutron needs a VIP: the catalog and every client use it"
                      % FIELD)
    galera_ = services.get("galera")
    if not isinstance(galera_, dict) or not loadbalancer.service_vips(galera_):
        errors.append("%s: Neutron keeps its data in Galera through the database VIP; define "
                      "hastack:services:galera with a vip" % FIELD)
    for name, why in (("keystone", "authenticates every request"),
                      ("rabbitmq", "carries the agents' RPC")):
        if not isinstance(services.get(name), dict):
            errors.append("%s: Neutron needs hastack:services:%s (it %s)" % (FIELD, name, why))


def _check_numbers(cfg, errors):
    for key, low, high in (("workers", 1, 64), ("rpc_workers", 0, 64),
                           ("report_interval", 1, 3600), ("agent_down_time", 2, 7200)):
        value = cfg[key]
        if not topology.is_int(value) or not low <= value <= high:
            errors.append("%s:%s: %r is not a number between %d and %d"
                          % (FIELD, key, value, low, high))
            return
    if cfg["agent_down_time"] < 2 * cfg["report_interval"]:
        errors.append("%s:agent_down_time: %d is less than twice report_interval (%d): live "
                      "agents would be called dead" % (FIELD, cfg["agent_down_time"],
                                                       cfg["report_interval"]))


def _check_rabbit(topo, cfg, errors):
    mq = (topo.get("services") or {}).get("rabbitmq")
    if not isinstance(mq, dict):
        return
    users = mq.get("users") or {}
    if isinstance(users, dict) and cfg["rabbit_user"] not in users:
        errors.append("%s:rabbit_user: %r is not a user under hastack:services:rabbitmq:users"
                      % (FIELD, cfg["rabbit_user"]))


def _check_agent_nodes(topo, agents, errors):
    field = FIELD + ":agents:nodes"
    nodes = agents["nodes"]
    if not isinstance(nodes, list) or not nodes:
        errors.append("%s: must be a non-empty list of network nodes (none has role network)"
                      % field)
        return []
    defined = topo.get("nodes") or {}
    for name in nodes:
        if name not in defined:
            errors.append("%s: node %r is not defined under hastack:nodes" % (field, name))
        elif "network" not in (defined[name] or {}).get("roles", []):
            errors.append("%s: node %r does not have role network" % (field, name))
    if len(set(map(str, nodes))) != len(nodes):
        errors.append("%s: a node is listed twice" % field)
    return nodes


def _check_mode(agents, nodes, errors):
    mode = agents["mode"]
    if mode not in MODES:
        errors.append("%s:agents:mode: %r is not one of %s" % (FIELD, mode, ", ".join(MODES)))
        return None
    if mode == "active_passive" and len(nodes) < 2:
        errors.append("%s:agents:nodes: active_passive needs at least 2 network nodes to move "
                      "the agents to; %d given" % (FIELD, len(nodes)))
    return 1 if mode == "active_passive" else len(nodes)


def _check_scheduling(agents, running, errors):
    field = FIELD + ":agents"
    if not isinstance(agents["l3_ha"], bool):
        errors.append("%s:l3_ha: %r is not true or false" % (field, agents["l3_ha"]))
    elif agents["l3_ha"] and agents["mode"] == "active_passive":
        errors.append("%s:l3_ha: active_passive runs one L3 agent at a time; HA routers need "
                      "two: set l3_ha: false or mode: active_active" % field)
    elif agents["l3_ha"]:
        value = agents["max_l3_agents_per_router"]
        if not topology.is_int(value) or value < 2:
            errors.append("%s:max_l3_agents_per_router: %r is not a number of L3 agents, 2 or "
                          "more (an HA router is a VRRP group)" % (field, value))
        elif value > running:
            errors.append("%s:max_l3_agents_per_router: %d is more than the number of agent "
                          "nodes (%d)" % (field, value, running))
    dhcp = agents["dhcp_agents_per_network"]
    if not topology.is_int(dhcp) or not 1 <= dhcp <= max(running, 1):
        errors.append("%s:dhcp_agents_per_network: %r must be a number from 1 to the number "
                      "of DHCP agents running at once (%d)" % (field, dhcp, running))


def _check_secrets(topo, errors):
    secrets = topo.get("secrets")
    if isinstance(secrets, dict):
        for key in SECRETS:
            errors.extend(topology.validate_secret(key, secrets.get(key)))


def validate(topo, errors):
    """Check ``hastack:services:neutron``; append errors naming the field."""
    services = topo.get("services") or {}
    svc = services.get("neutron")
    if not isinstance(svc, dict):
        return
    _check_dependencies(services, svc, errors)
    if "agents" in svc and not isinstance(svc["agents"], dict):
        errors.append("%s:agents: must be a mapping (nodes, mode, l3_ha, ...)" % FIELD)
        return
    cfg = dict(DEFAULTS, **svc)
    _check_numbers(cfg, errors)
    _check_rabbit(topo, cfg, errors)
    agents = _agent_settings(topo, svc.get("agents") or {})
    nodes = _check_agent_nodes(topo, agents, errors)
    running = _check_mode(agents, nodes, errors)
    if running is not None and nodes:
        _check_scheduling(agents, running, errors)
    _check_secrets(topo, errors)
