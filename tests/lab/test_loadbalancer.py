"""The load-balancing layer against the real haproxy and keepalived in the lab: the VIP
answers through haproxy, every kind of failure moves the VIP to exactly one other node, a
dead node never keeps serving it, and configs are checked before they are used.
Figures (outage windows) are bench/failover.py's job, not these tests'."""

import contextlib
import ipaddress
import json
import select
import socket
import subprocess
import threading
import time

import pytest
import yaml

from conftest import hastack
from hastack.lab.master import bin_path

# Faults injected here test Galera's, keepalived's and RabbitMQ's own handling: healing paused.
pytestmark = [pytest.mark.timeout(600), pytest.mark.usefixtures("healing_paused")]

API, API2, PORT = "198.18.10.100", "198.18.10.102", 8080
LB = ["ctl1", "ctl2", "ctl3"]


@pytest.fixture
def converged(lab):
    """Every VIP on its preferred node, once, before and after the test."""
    def wait():
        lab.wait_for(lambda: lab.holders(API) == ["ctl1"] and lab.holders(API2) == ["ctl2"],
                     timeout=120, what="api on ctl1 and api2 on ctl2")
    wait()
    yield
    for node in lab.lab.all_nodes():
        if not node.is_running():
            hastack("lab", "start", node.name)
    wait()


def test_the_vip_answers_through_haproxy_from_every_backend(lab, converged):
    seen = set()
    for _ in range(12):
        status, body = lab.get(API, PORT)
        assert status == 200, body
        seen.add(body.strip())
    assert seen == set(LB)


def test_vips_start_on_their_preferred_nodes_and_the_runner_agrees(lab, converged):
    res = lab.salt_run("hastack.vips", "--out=json")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)["vips"]
    assert {name: (v["holders"], v["status"]) for name, v in report.items()} == {
        "api": (["ctl1"], "ok"), "db": (["ctl1"], "ok"), "api2": (["ctl2"], "ok")}


def test_garp_for_a_held_vip_is_seen_on_the_bridge(lab, converged):
    mac = lab.sh("ctl1", "cat", "/sys/class/net/host0/address").stdout.strip()
    vip = ipaddress.IPv4Address(API).packed
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806)) as sock:
        sock.bind(("habr0", 0))
        sock.settimeout(5)
        assert lab.salt("ctl1", "ha_vip.garp", "api")["ctl1"]["result"] is True
        seen = False
        while not seen:
            frame = sock.recv(128)
            seen = (frame[22:28] == bytes.fromhex(mac.replace(":", ""))
                    and frame[28:32] == vip == frame[38:42])
    refused = lab.salt("ctl2", "ha_vip.garp", "api")["ctl2"]
    assert refused == {"result": False, "comment": "%s is not held by this node" % API}


def test_admin_socket_is_root_only(lab):
    assert lab.sh("ctl1", "stat", "-c", "%a %U", "/run/haproxy/admin.sock").stdout.split() == \
        ["600", "root"]


@contextlib.contextmanager
def steady_gets(lab):
    """GET through the VIP in a loop while the body runs; yields the list of failures."""
    failures, stop = [], threading.Event()

    def client():
        while not stop.is_set():
            status, body = lab.get(API, PORT, timeout=2)
            if status != 200:
                failures.append(body)
            time.sleep(0.01)

    worker = threading.Thread(target=client)
    worker.start()
    try:
        yield failures
    finally:
        stop.set()
        worker.join()


def _moves_away_from(lab, old):
    def moved():
        holders = lab.holders(API)
        return len(holders) == 1 and holders[0] != old

    lab.wait_for(moved, timeout=10, what="the VIP to move to exactly one other node")
    assert lab.get(API, PORT, timeout=3)[0] == 200


def test_haproxy_killed_moves_the_vip(lab, converged):
    lab.sh("ctl1", "systemctl", "kill", "-s", "KILL", "haproxy")
    _moves_away_from(lab, "ctl1")


def test_vip_changes_reach_the_master_as_events(lab, converged):
    # Watch the master's event bus as the reactor does (salt-run state.event, one event per
    # line): the ha_health beacon of the node that takes a VIP reports it. ctl1's own report
    # of taking its VIPs back before this test may still arrive: wait for the new holder's.
    watch = subprocess.Popen([bin_path("salt-run"), "-c", lab.lab.master.conf_dir,
                              "state.event", "salt/beacon/*/ha_health/vip", "count=-1"],
                             stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        lab.sh("ctl1", "systemctl", "kill", "-s", "KILL", "haproxy")
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline and not any(
                e["id"] in ("ctl2", "ctl3") and e["held"] for _, e in seen):
            ready, _, _ = select.select([watch.stdout], [], [], 1)
            if ready:
                line = watch.stdout.readline()
                assert line, "salt-run state.event ended (exit %s)" % watch.poll()
                tag, _, payload = line.partition("\t")
                seen.append((tag, json.loads(payload)))
    finally:
        watch.kill()
        watch.wait()
    taken = [(tag, e) for tag, e in seen if e["id"] in ("ctl2", "ctl3") and e["held"]]
    assert taken, seen
    tag, event = taken[0]
    assert tag == "salt/beacon/%s/ha_health/vip" % event["id"]
    assert event["kind"] == "vip" and event["vip"] in ("api", "db", "api2")


@contextlib.contextmanager
def local_client(lab, node):
    """An idle connection from inside ``node`` to the API VIP it holds (as an API's database
    pool keeps one): its source address is the VIP too. Yields a function listing them."""
    lab.sh(node, "systemd-run", "--unit", "lab-hold", "--collect", "python3", "-c",
           "import socket, time; s = socket.create_connection((%r, %d)); time.sleep(600)"
           % (API, PORT))

    def connections():
        out = lab.sh(node, "ss", "-Htn", "src", API, "dst", API + ":%d" % PORT).stdout
        return [line for line in out.splitlines() if line.strip()]

    try:
        lab.wait_for(connections, timeout=10, what="the local client's connection")
        yield connections
    finally:
        lab.sh(node, "systemctl", "stop", "lab-hold")


def test_keepalived_killed_leaves_no_second_holder(lab, converged):
    with local_client(lab, "ctl1") as connections:
        lab.sh("ctl1", "systemctl", "kill", "-s", "KILL", "keepalived")
        _moves_away_from(lab, "ctl1")
        # keepalived died hard; its VIPs went with its release script, not with it, and the
        # connections that used them were cut (nothing would ever answer them again).
        assert "198.18.10.100/32" not in lab.sh("ctl1", "ip", "-4", "addr", "show").stdout
        assert connections() == []


def test_holder_power_loss_moves_the_vip_and_it_comes_home(lab, converged):
    hastack("lab", "kill", "ctl1")
    _moves_away_from(lab, "ctl1")
    (backup,) = lab.holders(API)
    with local_client(lab, backup) as connections:
        hastack("lab", "start", "ctl1")
        lab.wait_for(lambda: lab.holders(API) == ["ctl1"], timeout=90,
                     what="the VIP back on ctl1 after it booted")
        # Leaving MASTER, the backup's notify cut what its own clients had opened to the VIP.
        lab.wait_for(lambda: connections() == [], timeout=10,
                     what="the connections to the VIP cut on " + backup)


def test_after_a_reboot_haproxy_death_still_moves_the_vip(lab, converged):
    # /run is empty after a boot and keepalived may start before haproxy: it must still be
    # tracking haproxy's state file.
    hastack("lab", "kill", "ctl1")
    hastack("lab", "start", "ctl1")
    lab.wait_for(lambda: lab.holders(API) == ["ctl1"], timeout=90,
                 what="the VIP back on ctl1 after it booted")
    lab.sh("ctl1", "systemctl", "kill", "-s", "KILL", "haproxy")
    _moves_away_from(lab, "ctl1")


def test_a_dead_backend_costs_no_get_and_shows_down(lab, converged):
    try:
        with steady_gets(lab) as failures:
            time.sleep(0.5)
            lab.sh("ctl3", "systemctl", "kill", "-s", "KILL", "lab-echo")
            lab.sh("ctl3", "systemctl", "stop", "lab-echo")
            lab.wait_for(lambda: lab.salt("ctl1", "ha_haproxy.backends")["ctl1"]["echo"]["ctl3"]
                         .startswith("DOWN"), timeout=10, what="haproxy to mark ctl3 DOWN")
            time.sleep(0.5)
    finally:
        lab.sh("ctl3", "systemctl", "start", "lab-echo")
    assert failures == []


def test_reload_drops_no_request(lab, converged):
    with steady_gets(lab) as failures:
        for _ in range(3):
            lab.sh("ctl1", "systemctl", "reload", "haproxy")
            time.sleep(0.3)
    assert failures == []
    assert lab.holders(API) == ["ctl1"]


def test_a_config_haproxy_refuses_never_replaces_the_one_in_use(lab):
    """The state's mechanism with the real haproxy -c in a node: a bogus config is refused
    and the file in use stays as it was."""
    before = lab.sh("ctl1", "sha256sum", "/etc/haproxy/haproxy.cfg").stdout
    code = ("import json; from hastack import files; "
            "print(json.dumps(files.converge('haproxy', {'/etc/haproxy/haproxy.cfg': "
            "('global\\n    bogus-keyword 1\\n', 0o640, "
            "['haproxy', '-c', '-f', '{path}'])})))")
    ret = json.loads(lab.sh("ctl1", "/opt/salt/bin/python3", "-c", code).stdout)
    assert ret["result"] is False and ret["changes"] == {}
    assert "bogus-keyword" in ret["comment"]
    assert lab.sh("ctl1", "sha256sum", "/etc/haproxy/haproxy.cfg").stdout == before
    assert lab.sh("ctl1", "ls", "/etc/haproxy").stdout.split() == ["errors", "haproxy.cfg"]


def test_test_mode_shows_the_diff_and_changes_nothing(lab, converged):
    path = lab.lab.topology_path
    good = open(path).read()
    doc = yaml.safe_load(good)
    doc["hastack"]["loadbalancer"]["preempt_delay"] = 7
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    try:
        before = lab.sh("ctl2", "sha256sum", "/etc/keepalived/keepalived.conf").stdout
        ret = lab.salt("ctl2", "state.apply", "loadbalancer", "test=True")["ctl2"]
        conf = [v for k, v in ret.items() if k.startswith("ha_keepalived_")][0]
        assert conf["result"] is None
        diff = conf["changes"]["/etc/keepalived/keepalived.conf"]
        assert "-    preempt_delay 5" in diff and "+    preempt_delay 7" in diff
        assert lab.sh("ctl2", "sha256sum", "/etc/keepalived/keepalived.conf").stdout == before
    finally:
        with open(path, "w") as f:
            f.write(good)


def test_loadbalancer_state_is_idempotent(lab):
    ret = lab.salt("-L", ",".join(LB), "state.apply", "loadbalancer")
    for node, states in ret.items():
        assert {k: v["changes"] for k, v in states.items() if v["changes"]} == {}, node
        assert all(v["result"] is True for v in states.values()), node
