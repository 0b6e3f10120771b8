"""Neutron: the config each node gets, the units, validation of the pillar, the rolling
restart gate on the agents, and the rescheduling plan when a network node is lost."""

import configparser
import os
import datetime

import pytest

from hastack import neutron, topology

UTC = datetime.timezone.utc
RESTART = datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def topo(good):
    """The example topology (3 controllers, net1 and net2 with role network) plus Neutron
    and its secrets."""
    assert topology.nodes_with_role(good, "network") == ["net1", "net2"]
    good["services"]["neutron"] = {"nodes": ["ctl1", "ctl2", "ctl3"], "port": 9696,
                                   "vip": "api2", "check": {"path": "/", "expect": 200},
                                   "agents": {"nodes": ["net1", "net2"]}}
    for key in neutron.SECRETS:
        good["secrets"][key] = "s3cr3t-%s-abcdefgh" % key
    return good


def ini(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def errors_of(topo):
    """What `salt-run hastack.validate` (and orch.deploy's first step) reports."""
    return topology.validate(topo)


def agent(aid, kind, host, alive=True, started="2026-11-23 09:00:00", **extra):
    return dict({"id": aid, "agent_type": kind, "host": host, "alive": alive,
                 "started_at": started}, **extra)


def fleet(**dead):
    """L3, DHCP and metadata agents on net1 and net2; ``dead={"net2": ["L3 agent"]}``."""
    out = []
    for host in ("net1", "net2"):
        for kind, short in ((neutron.L3, "l3"), (neutron.DHCP, "dhcp"),
                            (neutron.METADATA, "md")):
            out.append(agent("%s-%s" % (short, host), kind, host,
                             alive=kind not in dead.get(host, ())))
    return out


# -- settings and config ---------------------------------------------------------------------

def test_settings_fill_defaults_and_agent_nodes_default_to_network_role(topo):
    del topo["services"]["neutron"]["agents"]
    cfg = neutron.settings(topo)
    assert cfg["db_name"] == cfg["db_user"] == "neutron"
    assert cfg["region"] == "RegionOne"                      # Keystone's
    assert cfg["agents"]["nodes"] == ["net1", "net2"]
    assert cfg["agents"]["mode"] == "active_active"
    assert cfg["agents"]["l3_ha"] is True
    assert cfg["agents"]["max_l3_agents_per_router"] == 2
    assert cfg["agents"]["dhcp_agents_per_network"] == 2
    assert neutron.concurrent_agents(topo) == 2


def test_active_passive_defaults_to_one_agent_of_each_kind(topo):
    topo["services"]["neutron"]["agents"]["mode"] = "active_passive"
    agents = neutron.settings(topo)["agents"]
    assert (agents["l3_ha"], agents["dhcp_agents_per_network"]) == (False, 1)
    assert neutron.concurrent_agents(topo) == 1
    assert errors_of(topo) == [] and neutron.passive(topo)


def test_server_config_uses_the_database_vip_not_a_node(topo):
    conf = ini(neutron.render_server_config(topo, "ctl2"))
    db_vip = topo["vips"]["db"]["address"]
    url = conf["database"]["connection"]
    assert url == ("mysql+pymysql://neutron:%s@%s:3306/neutron?charset=utf8mb4"
                   % (topo["secrets"]["neutron_db_password"], db_vip))
    for node in topo["nodes"].values():
        assert "@%s:" % node["address"] not in url
    assert conf["database"]["max_retries"] == "-1"
    assert conf["database"]["retry_interval"] == "1"
    assert conf["database"]["mysql_wsrep_sync_wait"] == "1"
    topo["services"]["galera"]["sync_wait"] = 0
    assert "mysql_wsrep_sync_wait = 0" in neutron.render_server_config(topo, "ctl2")


def test_db_password_is_url_quoted(topo):
    topo["secrets"]["neutron_db_password"] = "p@ss/word:odd#"
    assert "neutron:p%40ss%2Fword%3Aodd%23@" in neutron.db_url(topo)


def test_server_config_schedules_for_ha(topo):
    d = ini(neutron.render_server_config(topo, "ctl3"))["DEFAULT"]
    # Neutron 29 has no bind options: gunicorn binds the node's address (the unit).
    assert "bind_host" not in d and "bind_port" not in d
    assert d["api_paste_config"] == "/opt/neutron/etc/neutron/api-paste.ini"
    assert (d["core_plugin"], d["service_plugins"], d["auth_strategy"]) == (
        "ml2", "router", "keystone")
    assert d["l3_ha"] == "true"
    assert d["max_l3_agents_per_router"] == "2"
    assert d["dhcp_agents_per_network"] == "2"
    # hastack's healing moves a lost node's routers and networks, not the periodic workers.
    assert d["allow_automatic_l3agent_failover"] == "false"
    assert d["allow_automatic_dhcp_failover"] == "false"
    assert d["network_auto_schedule"] == "true"
    topo["services"]["neutron"]["agents"]["network_auto_schedule"] = False   # lab, no OVS
    assert "network_auto_schedule = false" in neutron.render_server_config(topo, "ctl3")


def test_transport_url_names_every_rabbitmq_member_and_quorum_queues(topo):
    conf = ini(neutron.render_server_config(topo, "ctl1"))
    pw = topo["secrets"]["rabbitmq_users"]["openstack"]
    assert conf["DEFAULT"]["transport_url"] == (
        "rabbit://openstack:{0}@198.18.10.11:5672,openstack:{0}@198.18.10.12:5672,"
        "openstack:{0}@198.18.10.13:5672/".format(pw))
    assert conf["oslo_messaging_rabbit"]["rabbit_quorum_queue"] == "true"
    topo["services"]["rabbitmq"]["queues"] = "classic_mirrored"
    assert "rabbit_quorum_queue = false" in neutron.render_server_config(topo, "ctl1")


def test_keystone_authtoken_goes_to_the_identity_vip(topo):
    auth = ini(neutron.render_server_config(topo, "ctl1"))["keystone_authtoken"]
    assert auth["www_authenticate_uri"] == auth["auth_url"] == "http://198.18.10.100:5000/v3"
    assert (auth["auth_type"], auth["project_name"], auth["username"]) == (
        "password", "service", "neutron")
    assert auth["password"] == topo["secrets"]["neutron_service_password"]


def test_a_dollar_in_a_secret_is_escaped_for_oslo_config(topo):
    topo["secrets"]["neutron_service_password"] = "pa$word-abcdefgh"
    topo["secrets"]["neutron_metadata_secret"] = "$ecret-abcdefghij"
    assert "password = pa$$word-abcdefgh" in neutron.render_server_config(topo, "ctl1")
    assert "metadata_proxy_shared_secret = $$ecret-abcdefghij" in \
        neutron.render_agent_configs(topo, "net1")[neutron.METADATA_CONF]


def test_nova_notifications_only_with_nova(topo):
    d = ini(neutron.render_server_config(topo, "ctl1"))["DEFAULT"]
    assert d["notify_nova_on_port_status_changes"] == "false"


def test_ml2_config_is_openvswitch(topo):
    ml2 = ini(neutron.render_ml2_config(topo))["ml2"]
    assert ml2["mechanism_drivers"] == "openvswitch"
    assert "linuxbridge" not in neutron.render_ml2_config(topo)


def test_agent_configs(topo):
    confs = neutron.render_agent_configs(topo, "net1")
    assert sorted(confs) == ["/etc/neutron/dhcp_agent.ini", "/etc/neutron/l3_agent.ini",
                             "/etc/neutron/metadata_agent.ini"]
    for text in confs.values():
        assert ini(text)["agent"]["root_helper"] == "env"
    for path in (neutron.L3_CONF, neutron.DHCP_CONF):
        assert ini(confs[path])["DEFAULT"]["interface_driver"] == "openvswitch"
    md = ini(confs[neutron.METADATA_CONF])["DEFAULT"]
    assert md["nova_metadata_host"] == "198.18.10.102"            # neutron's VIP (api2)
    assert md["nova_metadata_port"] == "8775"
    assert md["metadata_proxy_shared_secret"] == topo["secrets"]["neutron_metadata_secret"]


def test_metadata_host_prefers_the_pillar_then_novas_vip(topo):
    topo["services"]["nova"] = {"nodes": ["ctl1"], "port": 8774, "vip": "api"}
    assert neutron.metadata_host(topo) == "198.18.10.100"
    topo["services"]["neutron"]["agents"]["metadata_host"] = "nova-md.example"
    assert "nova_metadata_host = nova-md.example" in \
        neutron.render_agent_configs(topo, "net2")[neutron.METADATA_CONF]


def test_wsgi_wrapper_resets_argv_and_names_the_config():
    w = neutron.WSGI_WRAPPER
    assert "sys.argv = sys.argv[:1]" in w
    assert 'os.environ["OS_NEUTRON_CONFIG_DIR"] = "/etc/neutron"' in w
    assert 'os.environ["OS_NEUTRON_CONFIG_FILES"] = "neutron.conf;plugins/ml2/ml2_conf.ini"' in w
    assert w.index("sys.argv =") < w.index("from neutron.wsgi.api import application")
    compile(w, "neutron_wsgi.py", "exec")


def test_api_unit_runs_gunicorn_from_the_venv_on_the_node(topo):
    unit = neutron.render_unit(topo, "ctl2", "neutron-api")
    assert "ExecStart=/opt/neutron/bin/gunicorn " in unit
    assert "--bind 198.18.10.12:9696" in unit
    assert "neutron_wsgi:application" in unit
    assert "User=neutron" in unit


@pytest.mark.parametrize("name", neutron.SERVER_UNITS + neutron.AGENT_UNITS)
def test_every_unit_restarts_on_failure(topo, name):
    node = "net1" if name in neutron.AGENT_UNITS else "ctl1"
    unit = neutron.render_unit(topo, node, name)
    assert "Restart=on-failure" in unit and "RestartSec=1" in unit


def test_agent_units_leave_dnsmasq_and_keepalived_running(topo):
    unit = neutron.render_unit(topo, "net1", "neutron-l3-agent")
    assert "KillMode=process" in unit
    assert ("ExecStart=/opt/neutron/bin/neutron-l3-agent --config-file /etc/neutron/neutron.conf"
            " --config-file /etc/neutron/l3_agent.ini") in unit
    rpc = neutron.render_unit(topo, "ctl1", "neutron-rpc-server")
    assert "--config-file /etc/neutron/plugins/ml2/ml2_conf.ini" in rpc


def test_agent_units_find_the_privsep_helper_in_the_venv(topo):
    """root_helper is ``env``: oslo.privsep runs ``env privsep-helper ...``, which exits 127
    unless the venv's bin is on the unit's PATH (seen in the lab's L3 agent log)."""
    for name in neutron.AGENT_UNITS:
        unit = neutron.render_unit(topo, "net1", name)
        (path,) = [line for line in unit.splitlines() if line.startswith("Environment=PATH=")]
        dirs = path.split("=", 2)[2].split(":")
        assert dirs[0] == "/opt/neutron/bin" and "/usr/sbin" in dirs and "/bin" in dirs
    assert "Environment=PATH" not in neutron.render_unit(topo, "ctl1", "neutron-api")


def test_server_units_keep_the_state_directory_mode_the_state_sets(topo):
    """systemd sets StateDirectory's mode at every start: the same as salt/neutron/common.sls
    so a second deploy finds nothing to change."""
    for name in neutron.SERVER_UNITS:
        unit = neutron.render_unit(topo, "ctl1", name)
        assert "StateDirectoryMode=0750" in unit
        assert "CPUWeight=25" in unit             # yields to what it depends on at boot


def test_files_per_role(topo):
    ctl, net = neutron.files(topo, "ctl1"), neutron.files(topo, "net1")
    assert neutron.ML2_CONF in ctl and neutron.L3_CONF not in ctl
    assert "/etc/systemd/system/neutron-api.service" in ctl
    assert neutron.L3_CONF in net and neutron.ML2_CONF not in net
    assert "/etc/systemd/system/neutron-dhcp-agent.service" in net
    assert "/etc/systemd/system/neutron-api.service" not in net
    # The agent-only node's neutron.conf has the bus but no database password.
    assert "transport_url" in net[neutron.CONF][0]
    assert topo["secrets"]["neutron_db_password"] not in net[neutron.CONF][0]
    assert net[neutron.CONF][1] == 0o600
    assert ctl[neutron.CONF][1:] == (0o640, None, "neutron")
    assert neutron.files(topo, "ctl1")[neutron.CONF] == neutron.files(topo, "ctl2")[neutron.CONF]


def test_a_node_with_both_roles_gets_both(topo):
    topo["nodes"]["ctl1"]["roles"].append("network")
    topo["services"]["neutron"]["agents"]["nodes"] = ["ctl1", "net1"]
    both = neutron.files(topo, "ctl1")
    assert neutron.ML2_CONF in both and neutron.METADATA_CONF in both
    assert "[database]" in both[neutron.CONF][0]                  # the server's
    assert neutron.files(topo, "net2") == {}


# -- validation ------------------------------------------------------------------------------

def test_good_topology_with_neutron_is_valid(topo):
    assert errors_of(topo) == []
    assert topology.validate(topo) == []


@pytest.mark.parametrize("change, message", [
    (lambda t: t["services"]["neutron"]["agents"].update(nodes=["net1", "nowhere"]),
     "hastack:services:neutron:agents:nodes: node 'nowhere' is not defined"),
    (lambda t: t["services"]["neutron"]["agents"].update(nodes=["net1", "ctl2"]),
     "hastack:services:neutron:agents:nodes: node 'ctl2' does not have role network"),
    (lambda t: t["services"]["neutron"]["agents"].update(nodes=[]),
     "hastack:services:neutron:agents:nodes: must be a non-empty list"),
    (lambda t: t["services"]["neutron"]["agents"].update(mode="hot_standby"),
     "hastack:services:neutron:agents:mode: 'hot_standby' is not one of"),
    (lambda t: t["services"]["neutron"]["agents"].update(max_l3_agents_per_router=1),
     "hastack:services:neutron:agents:max_l3_agents_per_router: 1 is not a number of L3"),
    (lambda t: t["services"]["neutron"]["agents"].update(max_l3_agents_per_router=3),
     "hastack:services:neutron:agents:max_l3_agents_per_router: 3 is more than the number"),
    (lambda t: t["services"]["neutron"]["agents"].update(max_l3_agents_per_router="2"),
     "hastack:services:neutron:agents:max_l3_agents_per_router: '2' is not a number"),
    (lambda t: t["services"]["neutron"]["agents"].update(dhcp_agents_per_network=0),
     "hastack:services:neutron:agents:dhcp_agents_per_network: 0 must be a number from 1"),
    (lambda t: t["services"]["neutron"]["agents"].update(dhcp_agents_per_network=3),
     "hastack:services:neutron:agents:dhcp_agents_per_network: 3 must be a number from 1"),
    (lambda t: t["services"]["neutron"]["agents"].update(l3_ha="yes"),
     "hastack:services:neutron:agents:l3_ha: 'yes' is not true or false"),
    (lambda t: t["services"]["neutron"]["agents"].update(mode="active_passive", l3_ha=True),
     "hastack:services:neutron:agents:l3_ha: active_passive runs one L3 agent at a time"),
    (lambda t: t["services"]["neutron"]["agents"].update(mode="active_passive",
                                                         dhcp_agents_per_network=2),
     "hastack:services:neutron:agents:dhcp_agents_per_network: 2 must be a number from 1"),
    (lambda t: t["services"]["neutron"]["agents"].update(mode="active_passive", nodes=["net1"]),
     "hastack:services:neutron:agents:nodes: active_passive needs at least 2"),
    (lambda t: t["services"]["neutron"].update(agents=["net1"]),
     "hastack:services:neutron:agents: must be a mapping"),
    (lambda t: t["services"]["neutron"].pop("vip"),
     "hastack:services:neutron:vip: Neutron needs a VIP"),
    (lambda t: t["services"]["galera"].pop("vip"),
     "hastack:services:neutron: Neutron keeps its data in Galera through the database VIP"),
    (lambda t: t["services"].pop("keystone"),
     "hastack:services:neutron: Neutron needs hastack:services:keystone"),
    (lambda t: t["services"].pop("rabbitmq"),
     "hastack:services:neutron: Neutron needs hastack:services:rabbitmq"),
    (lambda t: t["services"]["neutron"].update(rabbit_user="neutron"),
     "hastack:services:neutron:rabbit_user: 'neutron' is not a user"),
    (lambda t: t["services"]["neutron"].update(workers=0),
     "hastack:services:neutron:workers: 0 is not a number between 1 and 64"),
    (lambda t: t["services"]["neutron"].update(agent_down_time=40),
     "hastack:services:neutron:agent_down_time: 40 is less than twice report_interval"),
    (lambda t: t["secrets"].pop("neutron_db_password"),
     "hastack:secrets:neutron_db_password: missing"),
    (lambda t: t["secrets"].pop("neutron_service_password"),
     "hastack:secrets:neutron_service_password: missing"),
    (lambda t: t["secrets"].update(neutron_metadata_secret="short"),
     "hastack:secrets:neutron_metadata_secret: shorter than"),
])
def test_validation_names_the_field(topo, change, message):
    change(topo)
    errors = errors_of(topo)
    assert any(e.startswith(message) for e in errors), errors


def test_no_network_node_at_all_is_an_error(topo):
    del topo["services"]["neutron"]["agents"]
    for name in ("net1", "net2"):
        del topo["nodes"][name]
    assert any(e.startswith("hastack:services:neutron:agents:nodes: must be a non-empty")
               for e in errors_of(topo))


def test_missing_secrets_are_reported_once_not_per_service(topo):
    del topo["secrets"]
    assert not [e for e in errors_of(topo) if "neutron" in e]
    assert "hastack:secrets: missing; generate them with `hastack secrets --out " \
        "pillar/hastack/secrets.sls`" in errors_of(topo)


def test_without_neutron_nothing_is_checked(good):
    assert errors_of(good) == []


# -- agent timestamps and the rolling restart gate ------------------------------------------

@pytest.mark.parametrize("text", ["2026-11-23 10:01:02", "2026-11-23T10:01:02",
                                  "2026-11-23T10:01:02Z", "2026-11-23T11:01:02+01:00",
                                  "2026-11-23 10:01:02.000000"])
def test_parse_time_reads_neutrons_forms_as_utc(text):
    assert neutron.parse_time(text) == datetime.datetime(2026, 11, 23, 10, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize("text", [None, "", "yesterday"])
def test_parse_time_refuses_non_timestamps(text):
    with pytest.raises(ValueError):
        neutron.parse_time(text)


def test_an_alive_agent_started_before_the_restart_is_not_back():
    stale = agent("a", neutron.L3, "net1", started="2026-11-23 09:59:59")
    assert not neutron.agent_back(stale, RESTART)
    fresh = agent("a", neutron.L3, "net1", started="2026-11-23 10:00:03")
    assert neutron.agent_back(fresh, RESTART)
    assert neutron.agent_back(fresh, RESTART.replace(tzinfo=None))     # naive = UTC
    assert not neutron.agent_back(dict(fresh, alive=False), RESTART)
    assert not neutron.agent_back(dict(fresh, started_at=None), RESTART)


def test_restart_is_safe_when_the_other_node_has_every_agent():
    assert neutron.restart_blockers("net1", fleet()) == []


def test_restart_of_net1_is_refused_when_net2s_l3_agent_is_dead():
    reasons = neutron.restart_blockers("net1", fleet(net2=[neutron.L3]))
    assert reasons == ["net1: no live L3 agent on another host (down: net2)"]


def test_a_disabled_agent_elsewhere_does_not_count():
    agents = fleet()
    agents[4]["admin_state_up"] = False                   # net2's DHCP agent
    assert agents[4]["host"] == "net2" and agents[4]["agent_type"] == neutron.DHCP
    assert neutron.restart_blockers("net1", agents) == [
        "net1: no live DHCP agent on another host (down: net2)"]


def test_a_kind_the_node_does_not_run_does_not_block():
    agents = [a for a in fleet(net2=[neutron.METADATA])
              if not (a["host"] == "net1" and a["agent_type"] == neutron.METADATA)]
    assert neutron.restart_blockers("net1", agents) == []
    lone = [agent("x", neutron.L3, "net1")]
    assert neutron.restart_blockers("net1", lone) == [
        "net1: no live L3 agent on another host (none runs elsewhere)"]


def test_agents_on_an_fqdn_host_are_matched_by_short_name():
    agents = [agent("a", neutron.L3, "net1.cloud.example"),
              agent("b", neutron.L3, "net2.cloud.example", alive=False)]
    assert neutron.restart_blockers("net1", agents, kinds=(neutron.L3,)) != []
    assert neutron.waiting_for("net1", agents, RESTART, kinds=(neutron.L3,)) == [neutron.L3]


def test_rolling_plan_is_pillar_order_with_broken_nodes_first():
    assert neutron.rolling_plan(["net1", "net2"], fleet()) == ["net1", "net2"]
    assert neutron.rolling_plan(["net1", "net2"], fleet(net2=[neutron.DHCP])) == \
        ["net2", "net1"]


def test_rolling_restart_waits_for_every_agent_to_be_back():
    agents = fleet()
    assert neutron.waiting_for("net1", agents, RESTART) == list(neutron.KINDS)
    for a in agents:
        if a["host"] == "net1" and a["agent_type"] != neutron.DHCP:
            a["started_at"] = "2026-11-23T10:00:04"
    assert neutron.waiting_for("net1", agents, RESTART) == [neutron.DHCP]


def test_a_whole_rolling_restart_never_takes_the_last_agent():
    """Walk the plan the way the caller does: check, restart, wait until back."""
    agents = fleet()
    for step, node in enumerate(neutron.rolling_plan(["net1", "net2"], agents)):
        assert neutron.restart_blockers(node, agents) == []
        since = RESTART + datetime.timedelta(minutes=step)
        for a in agents:
            if a["host"] == node:
                a["started_at"] = (since + datetime.timedelta(seconds=3)).isoformat()
        assert neutron.waiting_for(node, agents, since) == []


# -- rescheduling after a lost network node --------------------------------------------------

def three_nodes(dead_net3=False):
    return [agent("l3-1", neutron.L3, "net1", alive=False),
            agent("l3-2", neutron.L3, "net2"),
            agent("l3-3", neutron.L3, "net3", alive=not dead_net3),
            agent("dhcp-1", neutron.DHCP, "net1", alive=False),
            agent("dhcp-2", neutron.DHCP, "net2"),
            agent("dhcp-3", neutron.DHCP, "net3", alive=not dead_net3)]


def test_net1s_routers_and_networks_move_to_live_agents():
    routers = {"l3-1": ["r1", "r2"], "l3-2": ["r2"], "l3-3": []}
    networks = {"dhcp-1": ["n1"], "dhcp-2": [], "dhcp-3": ["n1"]}
    plan = neutron.reschedule_plan("net1", three_nodes(), routers, networks, 2, 2)
    assert plan == [
        {"action": "add_router", "router": "r1", "agent": "l3-3", "host": "net3"},
        {"action": "remove_router", "router": "r1", "agent": "l3-1", "host": "net1"},
        {"action": "add_router", "router": "r2", "agent": "l3-3", "host": "net3"},
        {"action": "remove_router", "router": "r2", "agent": "l3-1", "host": "net1"},
        {"action": "add_network", "network": "n1", "agent": "dhcp-2", "host": "net2"},
        {"action": "remove_network", "network": "n1", "agent": "dhcp-1", "host": "net1"},
    ]


def test_least_loaded_first_then_host_name():
    routers = {"l3-1": ["r1", "r2", "r3"], "l3-2": [], "l3-3": []}
    plan = neutron.reschedule_plan("net1", three_nodes(), routers, {}, 2, 2)
    adds = [(a["router"], a["host"]) for a in plan if a["action"] == "add_router"]
    assert adds == [("r1", "net2"), ("r2", "net3"), ("r3", "net2")]


def test_never_to_a_dead_agent_and_stranded_when_nobody_is_left():
    routers = {"l3-1": ["r1"], "l3-2": [], "l3-3": []}
    agents = three_nodes(dead_net3=True)
    agents[1]["alive"] = False                                      # net2's L3 agent too
    plan = neutron.reschedule_plan("net1", agents, routers, {}, 2, 2)
    assert plan == [{"action": "stranded", "kind": "router", "resource": "r1"}]
    assert neutron.describe(plan[0]) == (
        "router r1 has no live L3 agent left and none can take it: it is down")


def test_a_router_already_on_enough_live_hosts_is_only_removed():
    routers = {"l3-1": ["r1"], "l3-2": ["r1"], "l3-3": ["r1"]}
    plan = neutron.reschedule_plan("net1", three_nodes(), routers, {}, 2, 2)
    assert plan == [{"action": "remove_router", "router": "r1", "agent": "l3-1",
                     "host": "net1"}]


def test_two_network_nodes_leave_ha_routers_degraded_not_stranded():
    agents = [a for a in three_nodes() if a["host"] != "net3"]
    plan = neutron.reschedule_plan("net1", agents, {"l3-1": ["r1"], "l3-2": ["r1"]},
                                   {"dhcp-1": ["n1"], "dhcp-2": []}, 2, 2)
    assert plan == [
        {"action": "degraded", "kind": "router", "resource": "r1", "hosts": ["net2"],
         "wanted": 2},
        {"action": "remove_router", "router": "r1", "agent": "l3-1", "host": "net1"},
        {"action": "add_network", "network": "n1", "agent": "dhcp-2", "host": "net2"},
        {"action": "remove_network", "network": "n1", "agent": "dhcp-1", "host": "net1"},
    ]
    assert neutron.describe(plan[0]) == (
        "router r1 runs on 1 live host(s) (net2), fewer than 2, and no other live L3 agent "
        "can take it")


def test_agents_of_the_dead_host_count_as_dead_even_if_still_alive():
    agents = three_nodes()
    agents[0]["alive"] = True            # alive is stale for up to agent_down_time
    plan = neutron.reschedule_plan("net1", agents, {"l3-1": ["r1"]}, {}, 2, 2)
    assert [a["agent"] for a in plan] == ["l3-2", "l3-1"]
    assert plan[0]["action"] == "add_router"


def test_a_legacy_router_leaves_the_dead_agent_before_it_gets_a_new_one():
    """Neutron refuses a second L3 agent for a router that is not HA (409): the old binding
    goes first, then one live agent takes it, even with max_l3_agents_per_router 2."""
    routers = {"l3-1": ["legacy", "ha"], "l3-2": [], "l3-3": []}
    plan = neutron.reschedule_plan("net1", three_nodes(), routers, {}, 2, 2,
                                   legacy_routers=["legacy"])
    assert plan == [
        {"action": "add_router", "router": "ha", "agent": "l3-2", "host": "net2"},
        {"action": "remove_router", "router": "ha", "agent": "l3-1", "host": "net1"},
        {"action": "remove_router", "router": "legacy", "agent": "l3-1", "host": "net1"},
        {"action": "add_router", "router": "legacy", "agent": "l3-3", "host": "net3"},
    ]


def test_plan_is_deterministic():
    routers = {"l3-1": ["r3", "r1", "r2"]}
    one = neutron.reschedule_plan("net1", three_nodes(), routers, {}, 2, 2)
    two = neutron.reschedule_plan("net1", list(reversed(three_nodes())), dict(routers), {}, 2, 2)
    assert one == two


def test_describe_add_and_remove():
    assert neutron.describe({"action": "add_router", "router": "r1", "agent": "l3-3",
                             "host": "net3"}) == "add router r1 to the L3 agent l3-3 on net3"
    assert neutron.describe({"action": "remove_network", "network": "n1", "agent": "dhcp-1",
                             "host": "net1"}) == (
        "remove network n1 from the dead DHCP agent dhcp-1 on net1")


# -- what the Salt side asks of the topology ----------------------------------------------

def test_units_per_node(topo):
    assert neutron.units(topo, "ctl2") == ["neutron-api", "neutron-rpc-server",
                                           "neutron-periodic-workers"]
    assert neutron.units(topo, "net1") == ["neutron-l3-agent", "neutron-dhcp-agent",
                                           "neutron-metadata-agent"]
    topo["nodes"]["ctl3"]["roles"] = ["controller", "network"]
    topo["services"]["neutron"]["agents"]["nodes"] = ["net1", "ctl3"]
    assert neutron.units(topo, "ctl3") == list(neutron.SERVER_UNITS + neutron.AGENT_UNITS)
    assert neutron.units(topo, "net2") == []
    # active_passive: the agents run on one node, stopped on purpose elsewhere; healing and
    # the service beacon must not start them (the group moves by neutron_failover).
    topo["services"]["neutron"]["agents"]["mode"] = "active_passive"
    assert neutron.units(topo, "net1") == []
    assert neutron.units(topo, "ctl3") == list(neutron.SERVER_UNITS)


def test_urls_node_and_vip(topo):
    assert neutron.local_url(topo, "ctl1") == "http://198.18.10.11:9696/"
    api2 = topo["vips"]["api2"]["address"]
    assert neutron.api_url(topo) == "http://%s:9696" % api2


def test_database_spec_is_reachable_from_the_nodes_subnet(topo):
    assert neutron.database_spec(topo) == {"name": "neutron", "user": "neutron",
                                           "host": "198.18.10.0/255.255.255.0"}
    argv = neutron.db_manage_argv("upgrade", "heads")
    assert argv[0] == "/opt/neutron/bin/neutron-db-manage" and argv[-2:] == ["upgrade", "heads"]
    assert argv[argv.index("--config-file") + 1] == neutron.CONF


@pytest.mark.parametrize("text, at_head", [
    ("  Running current for neutron ...\n5c85685d616d (head)\nd8bdf05313f4 (head)\n  OK\n",
     True),
    ("  Running current for neutron ...\n5c85685d616d (head)\nc3e9d13c4367\n  OK\n", False),
    ("  Running current for neutron ...\n  OK\n", False),          # an empty database
    ("", False),
])
def test_schema_at_head_by_current(text, at_head):
    assert neutron.db_at_head(text) is at_head


def test_dead_hosts_groups_dead_agents_by_host():
    agents = fleet(net2=[neutron.L3, neutron.DHCP])
    agents.append(agent("off", neutron.L3, "net1.example.org", alive=False,
                        admin_state_up=False))     # disabled by an operator: not dead
    assert neutron.dead_hosts(agents) == {"net2": [neutron.DHCP, neutron.L3]}
    assert neutron.dead_hosts(fleet()) == {}
    # What the beacon adds to each: is anything alive on another host?
    assert neutron.live_elsewhere(agents, "net2") is True
    assert neutron.live_elsewhere(fleet(net1=list(neutron.KINDS)), "net2") is False


# -- active_passive: who keeps the agent group ---------------------------------------------

def group(host, started, alive=True):
    return [agent("%s-%s" % (k, host), k, host, alive=alive, started=started)
            for k in neutron.KINDS]


def test_the_group_stays_where_its_agents_started_last():
    """net1 came back with its old agents (or was cut off) after the group moved to net2:
    net2's agents started later, net2 keeps the group and net1 yields."""
    agents = group("net1", "2026-11-23 09:00:00") + group("net2", "2026-11-23 09:05:00")
    assert neutron.group_keeper(["net1", "net2"], agents) == "net2"
    assert neutron.passive_role("net2", ["net1", "net2"], agents, True)[0] == "active"
    role, why = neutron.passive_role("net1", ["net1", "net2"], agents, True)
    assert (role, why) == ("standby", "the agents run on net2")


def test_a_whole_group_keeps_it_against_a_lone_agent_that_registered_again():
    """net2 hands the group over: its L3 agent, still stopping, reports once more after its
    record was deleted and registers again with a new start time. net1's whole group keeps
    it; net2 stays the one that yields."""
    agents = group("net1", "2026-11-23 09:00:00") + [
        agent("l3-net2", neutron.L3, "net2", started="2026-11-23 09:00:20")]
    assert neutron.group_keeper(["net1", "net2"], agents) == "net1"
    assert neutron.passive_role("net1", ["net1", "net2"], agents, True)[0] == "active"
    assert neutron.passive_role("net2", ["net1", "net2"], agents, True)[0] == "standby"


def test_the_group_keeper_ignores_dead_agents_and_ties_go_to_pillar_order():
    agents = group("net1", "2026-11-23 09:00:00", alive=False) + \
        group("net2", "2026-11-23 08:00:00")
    assert neutron.group_keeper(["net1", "net2"], agents) == "net2"
    same = group("net1", "2026-11-23 09:00:00") + group("net2", "2026-11-23 09:00:00")
    assert neutron.group_keeper(["net2", "net1"], same) == "net2"
    assert neutron.group_keeper(["net1", "net2"], group("net1", "x", alive=False)) is None
    # Dead agents counted: the last node that ran the group.
    assert neutron.group_keeper(["net1", "net2"], agents, alive=False) == "net1"


@pytest.mark.parametrize("agents, running_here, net1, net2", [
    # First deploy: no agent anywhere; the first agent node starts the group.
    ([], False, "active", "standby"),
    # Every node lost power: the node that ran the group last gets it back.
    (group("net2", "2026-11-23 09:00:00", alive=False), False, "standby", "active"),
    # Agents started here, not reporting yet, none live elsewhere: keep them.
    ([], True, "active", "active"),
])
def test_roles_with_no_live_agent(agents, running_here, net1, net2):
    nodes = ["net1", "net2"]
    assert neutron.passive_role("net1", nodes, agents, running_here)[0] == net1
    assert neutron.passive_role("net2", nodes, agents, running_here)[0] == net2


def test_a_group_handover_moves_everything_even_while_the_old_agents_look_alive():
    """The group moved to net2; net1's agents were stopped but are still called alive for
    agent_down_time: its router and network go to net2, legacy router off net1 first."""
    agents = group("net1", "2026-11-23 09:00:00") + group("net2", "2026-11-23 09:05:00")
    plan = neutron.reschedule_plan("net1", agents, {"L3 agent-net1": ["r1"]},
                                   {"DHCP agent-net1": ["n1"]}, 1, 1, legacy_routers=["r1"])
    assert [(a["action"], a["host"]) for a in plan] == [
        ("remove_router", "net1"), ("add_router", "net2"),
        ("add_network", "net2"), ("remove_network", "net1")]


# -- the agents state (its Salt side, with systemd and the API stubbed) ----------------------

class AgentsState:
    """_states/ha_neutron.py loaded with stubbed systemd, files under ``tmp_path`` and
    stubbed ha_neutron functions; ``calls`` records what it asked."""

    def __init__(self, tmp_path, monkeypatch, stopped=(), blockers=(), test=False,
                 role=None, enabled=True, cluster=None):
        from test_salt_adapters import load
        self.path = str(tmp_path / "l3_agent.ini")
        with open(self.path, "w") as f:
            f.write("current\n")
        os.chmod(self.path, 0o600)
        self.wanted = "current\n"
        self.calls = []
        self.mod = load("_states", "ha_neutron", __opts__={"test": test}, __salt__={
            "ha_neutron.files": lambda: {self.path: (self.wanted, 0o600, None, None)},
            "ha_neutron.restart_blockers": lambda: self.calls.append("blockers") or
            list(blockers),
            "ha_neutron.restart_agents": lambda **kw: self.calls.append(("restart", kw)) or {
                "result": True, "seconds": 9.9, "comment": "back after 9.9 s"},
            "ha_topology.get": lambda: {"cluster": cluster or {}, "services": {"neutron": {
                "agents": {"mode": "active_passive" if role else "active_active"}}}},
            "ha_neutron.passive_role": self.role,
            "ha_neutron.reschedule": self.reschedule}, __grains__={"id": "net1"})
        self.answer_role = role
        states = {u: ("inactive" if u in stopped else "active") for u in neutron.AGENT_UNITS}
        on = "enabled" if enabled else "disabled"
        monkeypatch.setattr(self.mod, "_each", lambda verb, units: states if
                            verb == "is-active" else {u: on for u in units})
        monkeypatch.setattr(self.mod.subprocess, "run",
                            lambda argv, **kw: self.calls.append(tuple(argv)))

    def role(self):
        if isinstance(self.answer_role, Exception):
            raise self.answer_role
        return {"role": self.answer_role, "why": "because"}

    def reschedule(self, host, test=False, forget=False):
        self.calls.append(("reschedule", host, test, forget))
        what = {"moved": ["add router r1 to the L3 agent a2 on net2"],
                "forgotten": ["forget the L3 agent a1 of net1"]}
        return {"result": None if test else True, "changes": what, "comment": "handed over"}

    def read(self):
        with open(self.path) as f:
            return f.read()


def test_agents_state_changes_nothing_when_current(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch)
    ret = st.mod.agents_running()
    assert ret["result"] is True and ret["changes"] == {} and st.calls == []


def test_agents_state_starts_only_a_stopped_agent(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, stopped=["neutron-dhcp-agent"])
    ret = st.mod.agents_running()
    assert ret["result"] is True and ret["changes"] == {"started": ["neutron-dhcp-agent"]}
    # Starting a stopped agent takes nothing live away: no blocker check.
    assert st.calls == [("restart", {"timeout": 120, "force": True,
                                     "units": ["neutron-dhcp-agent"]})]


def test_agents_state_refuses_to_restart_the_last_live_agents(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, blockers=["net1: no live L3 agent on another host"])
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is False and "no live L3 agent on another host" in ret["comment"]
    assert st.calls == ["blockers"] and st.read() == "current\n"      # nothing written


def test_agents_state_writes_and_restarts_every_agent_on_a_change(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch)
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is True and st.read() == "changed\n"
    assert ret["changes"] == {"files": [st.path], "restarted": list(neutron.AGENT_UNITS)}
    assert st.calls[0] == "blockers" and st.calls[-1][0] == "restart"


def test_agents_state_with_test_true_only_says(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, test=True)
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is None and ret["changes"]["files"] == [st.path]
    assert st.calls == [] and st.read() == "current\n"


UNITS = list(neutron.AGENT_UNITS)


def test_passive_active_node_starts_its_stopped_agents_and_never_enables_them(
        tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, role="active", stopped=UNITS)
    ret = st.mod.agents_running()
    assert ret["result"] is True
    assert ret["changes"] == {"started": UNITS, "disabled": UNITS}
    # No blocker check: in active_passive nobody else runs the agents, by design.
    assert st.calls == [("systemctl", "disable") + tuple(UNITS),
                        ("restart", {"timeout": 120, "force": True, "units": UNITS})]


def test_passive_active_node_with_nothing_to_do_changes_nothing(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, role="active", enabled=False)
    ret = st.mod.agents_running()
    assert ret["result"] is True and ret["changes"] == {} and st.calls == []
    assert "active_passive, active" in ret["comment"]


def test_passive_standby_node_stops_and_hands_its_resources_over(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, role="standby", enabled=False)
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is True and st.read() == "changed\n"     # ready to take over
    assert ret["changes"] == {"files": [st.path], "stopped": UNITS,
                              "moved": ["add router r1 to the L3 agent a2 on net2"],
                              "forgotten": ["forget the L3 agent a1 of net1"]}
    assert ("systemctl", "stop") + tuple(UNITS) in st.calls
    assert st.calls[-1] == ("reschedule", "net1", False, True)
    assert not [c for c in st.calls if c[0] == "restart"]


def test_passive_standby_with_test_true_only_says(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, role="standby", test=True)
    ret = st.mod.agents_running()
    assert ret["result"] is None
    assert set(ret["changes"]) == {"stopped", "disabled", "moved", "forgotten"}
    assert st.calls == [("reschedule", "net1", True, True)]


def test_passive_with_unreadable_agents_changes_nothing(tmp_path, monkeypatch):
    st = AgentsState(tmp_path, monkeypatch, role=RuntimeError("the agents cannot be read"))
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is False and "cannot be read" in ret["comment"]
    assert st.calls == [] and st.read() == "current\n"


def test_agents_pacemaker_runs_only_get_their_files(tmp_path, monkeypatch):
    cluster = {"manager": "pacemaker", "resources": {
        u: {"systemd": u} for u in neutron.AGENT_UNITS}}
    # Units left enabled by hastack's own mode are disabled, and nothing is started.
    st = AgentsState(tmp_path, monkeypatch, role="active", stopped=UNITS, cluster=cluster)
    ret = st.mod.agents_running()
    assert ret["result"] is True and ret["changes"] == {"disabled": UNITS}
    assert st.calls == [("systemctl", "disable") + tuple(UNITS)]
    st = AgentsState(tmp_path, monkeypatch, role="active", stopped=UNITS, cluster=cluster,
                     enabled=False)
    assert st.mod.agents_running()["changes"] == {} and st.calls == []   # stopped: fine
    st.wanted = "changed\n"
    ret = st.mod.agents_running()
    assert ret["result"] is True and ret["changes"] == {"files": [st.path]}
    assert st.read() == "changed\n" and "crm_resource --restart" in ret["comment"]
    assert st.calls == [("systemctl", "daemon-reload")]       # nothing started or stopped


def test_the_api_session_and_its_token_are_reused_until_the_credentials_change(topo):
    """A token per call would be a password check in Keystone every 5 s (the beacon) and
    every second of a wait; one session keeps its token (keystoneauth1 renews it)."""
    from test_salt_adapters import load
    mod = load("_modules", "ha_neutron", __salt__={"ha_topology.get": lambda: topo})
    first, url = mod._api()
    assert mod._api()[0] is first and url.endswith(":9696/v2.0")
    topo["secrets"]["keystone_admin_password"] = "another-password-1234"
    assert mod._api()[0] is not first and len(mod._SESSION) == 1


def test_an_agent_whose_unit_is_still_starting_is_not_restarted_by_healing(topo, monkeypatch):
    """The rollout restarts net1's agents; under load the DHCP agent reported 37 s after its
    start, long after the lab's agent_down_time of 15 s: healing must not start it over."""
    from test_salt_adapters import load

    topo["services"]["neutron"]["agent_down_time"] = 15
    cfg = neutron.settings(topo)
    assert neutron.hung_grace(cfg) == 15 + neutron.AGENT_START_S
    mod = load("_modules", "ha_neutron", __grains__={"id": "net1"},
               __salt__={"ha_topology.get": lambda: topo})
    ages = {"neutron-dhcp-agent": 37.0, "neutron-l3-agent": 600.0}
    restarted = []
    monkeypatch.setattr(mod, "_active_for", lambda unit: ages.get(unit))
    monkeypatch.setattr(mod, "_systemctl", lambda *argv: restarted.append(argv) or
                        type("R", (), {"returncode": 0})())
    out = mod.restart_dead(["neutron-dhcp-agent", "neutron-l3-agent", "neutron-metadata-agent"])
    assert out["skipped"] == ["neutron-dhcp-agent started 37 s ago"]
    # Hung for longer than the grace, and stopped: both restarted.
    assert out["restarted"] == ["neutron-l3-agent", "neutron-metadata-agent"]
    assert restarted == [("restart", "neutron-l3-agent"), ("restart", "neutron-metadata-agent")]
