"""Keystone in the lab, as a client sees it from the host with keystoneauth1: tokens through
both API VIPs, a catalog of VIP URLs only, tokens still issued with a controller powered off,
a catalog endpoint altered by hand put back by the state, and a second orch.deploy that
changes nothing."""

import urllib.parse

import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from conftest import hastack
from hastack.lab.client import orchestration

pytestmark = pytest.mark.timeout(900)

CONTROLLERS = ["ctl1", "ctl2", "ctl3"]


@pytest.fixture(scope="module")
def topo(lab):
    return lab.lab.topology(with_secrets=True)


def vip(topo, name):
    return topo["vips"][name]["address"]


def session(topo, host):
    auth = v3.Password(auth_url="http://%s:5000/v3" % host, username="admin",
                       password=topo["secrets"]["keystone_admin_password"],
                       project_name="admin", user_domain_id="default",
                       project_domain_id="default")
    return ks_session.Session(auth=auth, timeout=5)


def catalog_urls(sess):
    access = sess.auth.get_access(sess)
    return [ep["url"] for svc in access.service_catalog.catalog for ep in svc["endpoints"]]


def token_ok(topo, host):
    try:
        return bool(session(topo, host).get_token())
    except ks_exc.ClientException:
        return False


def test_tokens_through_both_vips_and_the_catalog_lists_only_vips(lab, topo):
    vips = {vip(topo, "api"), vip(topo, "api2"), vip(topo, "db")}
    for name in ("api", "api2"):
        sess = session(topo, vip(topo, name))
        assert sess.get_token()
        urls = catalog_urls(sess)
        assert urls, "empty catalog"
        hosts = {urllib.parse.urlsplit(u).hostname for u in urls}
        assert hosts <= vips, urls
    identity = session(topo, vip(topo, "api")).get_endpoint(service_type="identity",
                                                            interface="public")
    assert identity == "http://%s:5000/v3" % vip(topo, "api")


def test_every_controller_validates_the_others_tokens(lab, topo):
    """Same Fernet keys everywhere: a token from one node is valid on every other."""
    token = session(topo, lab.lab.node("ctl1").address).get_token()
    for node in CONTROLLERS[1:]:
        other = session(topo, lab.lab.node(node).address)
        resp = other.get("http://%s:5000/v3/auth/tokens" % lab.lab.node(node).address,
                         headers={"X-Subject-Token": token}, raise_exc=False)
        assert resp.status_code == 200, (node, resp.status_code, resp.text[:300])


def test_tokens_are_issued_with_a_controller_powered_off(lab, topo):
    """ctl1 holds the API VIP, is Galera's writer and Keystone's first node: the worst one
    to lose."""
    api = vip(topo, "api")
    hastack("lab", "kill", "ctl1")
    try:
        lab.wait_for(lambda: all(token_ok(topo, api) for _ in range(5)), timeout=60,
                     what="five tokens in a row through the VIP with ctl1 off")
        assert lab.holders(api) in (["ctl2"], ["ctl3"])
    finally:
        hastack("lab", "start", "ctl1")
    lab.wait_for(lambda: lab.ping(["ctl1"]) == {"ctl1"}, timeout=120, what="ctl1's minion")
    # Back in every layer before the next test: Galera Synced (systemd restarts MariaDB, IST),
    # Keystone answering on ctl1 itself, the VIP home.
    lab.wait_for(lambda: lab.get(lab.lab.node("ctl1").address, 9200)[0] == 200, timeout=180,
                 what="ctl1 Synced in Galera")
    lab.wait_for(lambda: lab.get(lab.lab.node("ctl1").address, 5000, "/v3")[0] == 200,
                 timeout=120, what="Keystone on ctl1")
    lab.wait_for(lambda: lab.holders(api) == ["ctl1"], timeout=60, what="the VIP back on ctl1")
    # A client whose ARP entry still names the backup's MAC waits for keepalived's second
    # gratuitous ARP burst (bench/failover.py measures the way back).
    lab.wait_for(lambda: token_ok(topo, api), timeout=30, what="a token after the return")


def test_an_endpoint_altered_by_hand_is_reported_and_put_back(lab, topo):
    sess = session(topo, vip(topo, "api"))
    base = "http://%s:5000/v3" % vip(topo, "api")
    public = [e for e in sess.get(base + "/endpoints?interface=public").json()["endpoints"]
              if e["url"] == base][0]
    wrong = "http://%s:5000/v3" % lab.lab.node("ctl1").address
    sess.patch(base + "/endpoints/" + public["id"], json={"endpoint": {"url": wrong}})
    try:
        def reported():
            check = lab.salt("ctl2", "ha_keystone.catalog_check")["ctl2"]
            return check["ok"] is False and any(public["id"] in p and wrong in p
                                                for p in check["problems"])
        # A Keystone that has just come back (the previous test) may time out once.
        lab.wait_for(reported, timeout=90, what="the wrong endpoint to be reported")

        dry = lab.salt("ctl1", "state.apply", "keystone.catalog", "test=True")["ctl1"]
        (state,) = dry.values()
        assert state["result"] is None and state["changes"]["catalog"], state
        assert sess.get(base + "/endpoints/" + public["id"]).json()["endpoint"]["url"] == wrong

        fixed = lab.salt("ctl1", "state.apply", "keystone.catalog")["ctl1"]
        (state,) = fixed.values()
        assert state["result"] is True and state["changes"], state
    finally:
        sess.patch(base + "/endpoints/" + public["id"], json={"endpoint": {"url": base}})
    assert sess.get(base + "/endpoints/" + public["id"]).json()["endpoint"]["url"] == base
    again = lab.salt("ctl1", "state.apply", "keystone.catalog")["ctl1"]
    (state,) = again.values()
    assert state["result"] is True and state["changes"] == {}
    assert lab.salt("ctl2", "ha_keystone.catalog_check")["ctl2"]["ok"] is True


def test_second_deploy_changes_nothing(lab):
    res = lab.salt_run("state.orchestrate", "orch.deploy", "--out=json", timeout=1200)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    steps, changed = orchestration(res.stdout)
    assert [s["name"] for s in steps if s["result"] is not True] == []
    assert "hastack-keystone-catalog" in [s["name"] for s in steps]
    assert changed == []
