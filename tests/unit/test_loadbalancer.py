"""Rendering of haproxy and keepalived from the topology, and the layer's validation."""

import subprocess

import pytest

from hastack import loadbalancer as lb
from hastack import topology


def test_priorities_follow_pillar_order_and_peers_exclude_self(good):
    by_node = {n: {i["name"]: i for i in lb.vrrp_instances(good, n)}
               for n in ("ctl1", "ctl2", "ctl3")}
    assert [by_node[n]["api"]["priority"] for n in ("ctl1", "ctl2", "ctl3")] == [200, 190, 180]
    # api2 is preferred on ctl2: a second active load balancer.
    assert [by_node[n]["api2"]["priority"] for n in ("ctl2", "ctl3", "ctl1")] == [200, 190, 180]
    assert by_node["ctl2"]["api"]["src"] == "198.18.10.12"
    assert by_node["ctl2"]["api"]["peers"] == ["198.18.10.11", "198.18.10.13"]


def test_a_node_outside_a_vip_list_gets_no_instance(good):
    good["vips"]["db"]["nodes"] = ["ctl1", "ctl2"]
    assert "db" not in {i["name"] for i in lb.vrrp_instances(good, "ctl3")}
    assert lb.vrrp_instances(good, "net1") == []


def test_keepalived_tracks_haproxy_by_file_with_subsecond_vrrpv3(good):
    conf = lb.render_keepalived(good, "ctl1")
    assert "vrrp_version 3" in conf
    assert "advert_int 0.05" in conf
    assert 'file "/run/hastack/haproxy.state"' in conf
    assert conf.count("track_file {") == 3
    assert "vrrp_script" not in conf
    assert "198.18.10.100/32 dev host0" in conf
    assert "unicast_peer {\n        198.18.10.12\n        198.18.10.13\n    }" in conf


def test_keepalived_classic_vrrp_script_mode(good):
    good["loadbalancer"] = {"haproxy_check": "vrrp_script", "advert_int": 1, "vrrp_version": 2}
    conf = lb.render_keepalived(good, "ctl1")
    assert 'script "/usr/bin/pgrep -x haproxy"' in conf and "interval 1" in conf
    assert "track_file" not in conf and "vrrp_version 2" in conf


def test_release_script_drops_only_this_nodes_vips(good):
    good["vips"]["db"]["nodes"] = ["ctl2", "ctl3"]
    script = lb.render_release_script(good, "ctl1")
    assert "ip -4 addr del 198.18.10.100/32 dev host0" in script
    assert "198.18.10.101" not in script
    # ... and cuts the connections local clients made to it (their source address is the VIP)
    assert "ss -K -t src 198.18.10.100 " in script
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0


def test_notify_script_cuts_a_vips_connections_when_it_leaves(good):
    script = lb.render_notify_script(good, "ctl1")
    assert subprocess.run(["sh", "-n"], input=script, text=True).returncode == 0
    cuts = [line.strip() for line in script.splitlines() if "ss -K" in line]
    assert cuts == ["api) ss -K -t src 198.18.10.100 >/dev/null 2>&1 || true ;;",
                    "api2) ss -K -t src 198.18.10.102 >/dev/null 2>&1 || true ;;",
                    "db) ss -K -t src 198.18.10.101 >/dev/null 2>&1 || true ;;"]
    assert '[ "$3" = MASTER ] && exit 0' in script
    # No process per transition: VRRP can flap many times a second on a loaded node.
    assert "salt-call" not in script


def test_systemd_dropins(good):
    assert "ExecStopPost=%s" % lb.RELEASE_SCRIPT in lb.render_keepalived_dropin()
    assert "Restart=always" in lb.render_keepalived_dropin()
    # The state file exists, telling haproxy's real state, before keepalived reads it.
    pre = [line for line in lb.render_keepalived_dropin().splitlines()
           if line.startswith("ExecStartPre=")]
    assert len(pre) == 1 and "mkdir -p /run/hastack" in pre[0]
    assert "is-active haproxy" in pre[0] and pre[0].endswith("> /run/hastack/haproxy.state'")
    dropin = lb.render_haproxy_dropin()
    assert "ExecStartPost=" in dropin and "echo 0 > /run/hastack/haproxy.state" in dropin
    assert "ExecStopPost=" in dropin and "echo 1 > /run/hastack/haproxy.state" in dropin
    # keepalived must see the 1 before a restart writes 0 again.
    assert "RestartSec=2" in dropin


def test_haproxy_frontends_on_every_vip_and_backends_on_node_addresses(good):
    cfg = lb.render_haproxy(good, "ctl1")
    assert "    bind 198.18.10.100:5000\n    bind 198.18.10.102:5000" in cfg
    assert "    server ctl2 198.18.10.12:5000 check\n" in cfg
    assert "option httpchk GET /v3" in cfg and "http-check expect status 200" in cfg
    assert "retries 3" in cfg and "option redispatch 1" in cfg
    assert "retry-on conn-failure empty-response response-timeout 500 502 503 504" in cfg
    assert "http-request disable-l7-retry unless METH_GET" in cfg
    assert "stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners" in cfg
    assert "    bind 198.18.10.11:1936" in cfg
    assert "stats auth admin:" + good["secrets"]["haproxy_stats_password"] in cfg


def test_haproxy_single_writer_has_one_active_server(good):
    cfg = lb.render_haproxy(good, "ctl1")
    backend = cfg[cfg.index("\nbackend galera"):].split("\n\n")[0]
    servers = [line for line in backend.splitlines() if line.strip().startswith("server")]
    assert [("backup" in s) for s in servers] == [False, True, True]
    assert all("check port 9200" in s and "on-marked-down shutdown-sessions" in s
               for s in servers)
    assert "    mode tcp" in backend
    assert "retry-on" not in backend


def test_files_lists_everything_the_layer_manages(good):
    files = lb.files(good, "ctl1")
    assert set(files) == {lb.HAPROXY_CFG, lb.HAPROXY_DROPIN, lb.KEEPALIVED_CONF,
                          lb.KEEPALIVED_DROPIN, lb.RELEASE_SCRIPT, lb.NOTIFY_SCRIPT}
    assert files[lb.RELEASE_SCRIPT][1] == 0o755


def test_dns_round_robin_record_sets(good):
    assert lb.dns_records(good, "cloud.example") == {
        "keystone.cloud.example": ["198.18.10.100", "198.18.10.102"]}


def test_lb_nodes_default_to_loadbalancer_role_then_controllers(good):
    assert lb.lb_nodes(good) == ["ctl1", "ctl2", "ctl3"]
    good["nodes"]["net1"]["roles"] = ["network", "loadbalancer"]
    assert lb.lb_nodes(good) == ["net1"]
    good["loadbalancer"]["nodes"] = ["ctl2"]
    assert lb.lb_nodes(good) == ["ctl2"]


def test_parse_stat_csv():
    text = ("# pxname,svname,qcur,status,\n"
            "echo,FRONTEND,,OPEN,\n"
            "echo,ctl1,0,UP,\n"
            "echo,ctl2,0,DOWN,\n"
            "echo,BACKEND,0,UP,\n")
    assert lb.parse_stat_csv(text) == {"echo": {"ctl1": "UP", "ctl2": "DOWN"}}
    assert lb.parse_stat_csv("") == {}


MALFORMED = [
    ("lb-unknown-node", lambda t: t["loadbalancer"].update(nodes=["ctl1", "lb9"]),
     "hastack:loadbalancer:nodes", "node 'lb9' is not defined"),
    ("vrrp-version", lambda t: t["loadbalancer"].update(vrrp_version=4),
     "hastack:loadbalancer:vrrp_version", "not 2 or 3"),
    ("advert-too-small", lambda t: t["loadbalancer"].update(advert_int=0.001),
     "hastack:loadbalancer:advert_int", "0.01 to 255"),
    ("v2-subsecond", lambda t: t["loadbalancer"].update(vrrp_version=2, advert_int=0.5),
     "hastack:loadbalancer:advert_int", "VRRPv2 adverts are whole seconds"),
    ("unknown-check", lambda t: t["loadbalancer"].update(haproxy_check="track_process"),
     "hastack:loadbalancer:haproxy_check", "not one of track_file, vrrp_script"),
    ("preempt-delay", lambda t: t["loadbalancer"].update(preempt_delay=-1),
     "hastack:loadbalancer:preempt_delay", "not a number of seconds"),
    ("vip-on-non-lb", lambda t: t["vips"]["api"].update(nodes=["ctl1", "net1"]),
     "hastack:vips:api:nodes", "node net1 is not a load balancer"),
    ("service-mode", lambda t: t["services"]["keystone"].update(mode="udp"),
     "hastack:services:keystone:mode", "not http or tcp"),
    ("check-path", lambda t: t["services"]["keystone"].update(check={"path": "v3"}),
     "hastack:services:keystone:check:path", "must start with /"),
    ("check-expect", lambda t: t["services"]["keystone"].update(check={"expect": 42}),
     "hastack:services:keystone:check:expect", "not an HTTP status"),
    ("check-port", lambda t: t["services"]["galera"].update(check={"port": 0}),
     "hastack:services:galera:check:port", "not a TCP port"),
    ("vip-list-unknown", lambda t: t["services"]["keystone"].update(vip=["api", "api9"]),
     "hastack:services:keystone:vip", "VIP 'api9' is not defined"),
    ("vip-list-twice", lambda t: t["services"]["keystone"].update(vip=["api", "api"]),
     "hastack:services:keystone:vip", "listed twice"),
]


@pytest.mark.parametrize("mutate,field,words", [c[1:] for c in MALFORMED],
                         ids=[c[0] for c in MALFORMED])
def test_malformed_loadbalancer_settings_are_refused(good, mutate, field, words):
    mutate(good)
    errors = topology.validate(good)
    assert [e for e in errors if e.startswith(field + ":") and words in e], errors


def test_a_service_may_declare_paths_safe_to_resend(good):
    good["services"]["keystone"]["retry_paths"] = ["/v3/auth/tokens"]
    cfg = lb.render_haproxy(good, "ctl1")
    keystone = cfg.split("\nbackend keystone\n")[1].split("\nbackend ")[0]
    assert "http-request disable-l7-retry unless METH_GET || { path /v3/auth/tokens }" \
        in keystone
    good["services"]["keystone"]["retry_paths"] = "/v3/auth/tokens"
    assert ("hastack:services:keystone:retry_paths: must be a list of paths such as "
            "/v3/auth/tokens") in topology.validate(good)
