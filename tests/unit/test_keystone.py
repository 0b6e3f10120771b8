"""Keystone: the config every controller gets, the catalog plan on the VIPs and the diff
that puts a wrong catalog right, the database grant, validation of the pillar."""

import pytest

from hastack import galera, keystone, secrets, topology
from test_salt_adapters import load

VIP_URL = "http://198.18.10.100:5000/v3"


def catalog_of(*endpoints, services=None):
    services = services or [{"id": "s-ks", "type": "identity", "name": "keystone"}]
    return services, [dict(zip(("id", "service_id", "interface", "url"), e),
                           region_id="RegionOne") for e in endpoints]


def test_config_uses_the_database_vip_and_fernet_tokens(good):
    conf = keystone.render_config(good, "ctl2")
    db = good["vips"]["db"]["address"]
    assert ("connection = mysql+pymysql://keystone:%s@%s:3306/keystone"
            % (good["secrets"]["keystone_db_password"], db)) in conf
    assert "provider = fernet" in conf
    assert "key_repository = /etc/keystone/fernet-keys/" in conf
    assert "max_retries = -1" in conf
    assert "password_hash_rounds" not in conf
    # Reads wait for every earlier commit (a failback puts pooled and new connections on
    # different Galera members); the pillar may turn it off.
    assert "mysql_wsrep_sync_wait = 1" in conf
    good["services"]["galera"]["sync_wait"] = 0
    assert "mysql_wsrep_sync_wait = 0" in keystone.render_config(good, "ctl2")


def test_db_password_is_url_quoted(good):
    good["secrets"]["keystone_db_password"] = "p@ss/word:with?odd#chars"
    assert "keystone:p%40ss%2Fword%3Awith%3Fodd%23chars@" in keystone.db_url(good)


def test_unit_binds_the_node_address_and_wraps_argv(good):
    unit = keystone.render_unit(good, "ctl3")
    assert "--bind 198.18.10.13:5000" in unit
    assert "--no-control-socket" in unit
    assert "keystone_wsgi:application" in unit
    assert "sys.argv = sys.argv[:1]" in keystone.WSGI_WRAPPER
    assert "Restart=always" in unit


def test_every_controller_gets_the_same_keys(good):
    one, two = keystone.files(good, "ctl1"), keystone.files(good, "ctl2")
    keys = sorted(p for p in one if "-keys/" in p)
    assert keys == ["/etc/keystone/credential-keys/0", "/etc/keystone/credential-keys/1",
                    "/etc/keystone/fernet-keys/0", "/etc/keystone/fernet-keys/1",
                    "/etc/keystone/fernet-keys/2"]
    assert all(one[p] == two[p] for p in keys)
    assert one["/etc/keystone/fernet-keys/2"][1:] == (0o640, None, "keystone")
    assert one[keystone.CONF][0] != two[keystone.CONF][0] or True  # same text is fine
    assert one[keystone.UNIT][0] != two[keystone.UNIT][0]          # own bind address


def test_catalog_plan_names_only_vips(good):
    good["services"]["neutron"] = {"nodes": ["ctl1", "ctl2", "ctl3"], "port": 9696,
                                   "vip": "api2"}
    plan = {p["type"]: p for p in keystone.catalog_plan(good)}
    assert set(plan) == {"identity", "network"}
    assert set(plan["identity"]["urls"].values()) == {VIP_URL}
    assert plan["identity"]["urls"].keys() == {"public", "internal", "admin"}
    assert plan["network"]["urls"]["public"] == "http://198.18.10.102:9696"


def test_catalog_plan_skips_services_without_api_or_vip(good):
    good["services"]["echo"] = {"nodes": ["ctl1"], "port": 8080, "vip": "api"}
    good["services"]["neutron"] = {"nodes": ["ctl1"], "port": 9696}        # no VIP
    good["services"]["nova"] = {"nodes": ["ctl1"], "port": 8774, "vip": "api",
                                "catalog": False}
    assert [p["type"] for p in keystone.catalog_plan(good)] == ["identity"]


def test_endpoint_host_gives_a_dns_name(good):
    good["services"]["keystone"]["endpoint_host"] = "keystone.cloud.example"
    assert keystone.auth_url(good) == "http://keystone.cloud.example:5000/v3"


def test_a_matching_catalog_needs_nothing(good):
    services, endpoints = catalog_of(("e1", "s-ks", "public", VIP_URL),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL))
    assert keystone.catalog_diff(keystone.catalog_plan(good), services, endpoints) == ([], [])


def test_an_endpoint_on_a_node_address_is_put_back(good):
    services, endpoints = catalog_of(("e1", "s-ks", "public", "http://198.18.10.11:5000/v3"),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL))
    actions, problems = keystone.catalog_diff(keystone.catalog_plan(good), services, endpoints)
    assert actions == [{"action": "update_endpoint", "type": "identity", "id": "e1",
                        "interface": "public", "old": "http://198.18.10.11:5000/v3",
                        "url": VIP_URL}]
    assert problems == []
    assert keystone.describe(actions[0]) == (
        "identity public endpoint e1 points at http://198.18.10.11:5000/v3, not " + VIP_URL)


def test_missing_service_and_endpoints_are_created(good):
    actions, _ = keystone.catalog_diff(keystone.catalog_plan(good), [], [])
    assert [a["action"] for a in actions] == ["create_service"] + ["create_endpoint"] * 3
    assert {a["url"] for a in actions[1:]} == {VIP_URL}


def test_duplicates_go_and_the_right_one_is_kept(good):
    services, endpoints = catalog_of(("e0", "s-ks", "public", "http://198.18.10.12:5000/v3"),
                                     ("e1", "s-ks", "public", VIP_URL),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL))
    actions, _ = keystone.catalog_diff(keystone.catalog_plan(good), services, endpoints)
    assert actions == [{"action": "delete_endpoint", "type": "identity", "id": "e0",
                        "interface": "public", "url": "http://198.18.10.12:5000/v3"}]


def test_a_disabled_endpoint_is_enabled(good):
    services, endpoints = catalog_of(("e1", "s-ks", "public", VIP_URL),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL))
    endpoints[0]["enabled"] = False
    actions, _ = keystone.catalog_diff(keystone.catalog_plan(good), services, endpoints)
    assert [(a["action"], a["id"]) for a in actions] == [("update_endpoint", "e1")]


def test_unmanaged_endpoint_on_a_node_is_reported_not_touched(good):
    services, endpoints = catalog_of(("e1", "s-ks", "public", VIP_URL),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL),
                                     ("e9", "s-nova", "public", "http://198.18.10.11:8774/v2.1"),
                                     services=[{"id": "s-ks", "type": "identity",
                                                "name": "keystone"},
                                               {"id": "s-nova", "type": "compute",
                                                "name": "nova"}])
    addrs = [n["address"] for n in good["nodes"].values()]
    actions, problems = keystone.catalog_diff(keystone.catalog_plan(good), services,
                                              endpoints, addrs)
    assert actions == []
    assert problems == ["endpoint e9 (http://198.18.10.11:8774/v2.1) points at node address "
                        "198.18.10.11, not a VIP; hastack does not manage that service"]


def test_other_regions_are_left_alone(good):
    services, endpoints = catalog_of(("e1", "s-ks", "public", VIP_URL),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL),
                                     ("e4", "s-ks", "public", "http://10.0.0.1:5000/v3"))
    endpoints[3]["region_id"] = "RegionTwo"
    assert keystone.catalog_diff(keystone.catalog_plan(good), services, endpoints) == ([], [])


def test_bootstrap_puts_the_identity_endpoints_on_the_vip(good):
    argv = keystone.bootstrap_argv(good)
    for flag in ("--bootstrap-admin-url", "--bootstrap-internal-url", "--bootstrap-public-url"):
        assert argv[argv.index(flag) + 1] == VIP_URL
    assert argv[argv.index("--bootstrap-password") + 1] == \
        good["secrets"]["keystone_admin_password"]


def test_database_grant_is_for_the_subnet(good):
    spec = keystone.database_spec(good)
    assert spec == {"name": "keystone", "user": "keystone", "host": "198.18.10.0/255.255.255.0"}
    sql = galera.database_sql(spec["name"], spec["user"], "it's", spec["host"])
    assert sql[0] == "CREATE DATABASE IF NOT EXISTS `keystone`"
    assert "IDENTIFIED BY 'it\\'s'" in sql[1]
    assert sql[-1] == "GRANT ALL PRIVILEGES ON `keystone`.* TO 'keystone'@'198.18.10.0/255.255.255.0'"
    with pytest.raises(ValueError):
        galera.database_sql("key`stone", "u", "p", "h")


def test_database_missing_lists_what_to_do():
    facts = {"database": True, "user": True, "password": False, "grant": True}
    assert galera.database_missing("keystone", "keystone", "h", facts) == [
        "password of keystone@h"]
    assert galera.database_missing("keystone", "keystone", "h", dict(facts, password=True)) == []


@pytest.mark.parametrize("change, message", [
    (lambda t: t["services"]["keystone"].pop("vip"),
     "hastack:services:keystone:vip: Keystone needs a VIP"),
    (lambda t: t["services"]["galera"].pop("vip"),
     "hastack:services:keystone: Keystone keeps its data in Galera through the database VIP"),
    (lambda t: t["services"]["keystone"].update(workers=0),
     "hastack:services:keystone:workers: 0 is not a number of gunicorn workers"),
    (lambda t: t["services"]["keystone"].update(password_hash_rounds=3),
     "hastack:services:keystone:password_hash_rounds: 3 is not a bcrypt cost"),
    (lambda t: t["services"]["keystone"].update(token_expiration=10),
     "hastack:services:keystone:token_expiration: 10 is not a number of seconds"),
    (lambda t: t["services"]["keystone"].update(catalog="yes"),
     "hastack:services:keystone:catalog: must be false or a mapping"),
    (lambda t: t["secrets"].update(keystone_fernet_keys=["short", "x", "y"]),
     "hastack:secrets:keystone_fernet_keys: entries 0, 1, 2 are not Fernet keys"),
    (lambda t: t["secrets"].update(keystone_credential_keys=None),
     "hastack:secrets:keystone_credential_keys: must be a list of 2 Fernet keys"),
    (lambda t: t["secrets"].pop("keystone_db_password"),
     "hastack:secrets:keystone_db_password: missing"),
])
def test_validation_names_the_field(good, change, message):
    change(good)
    errors = topology.validate(good)
    assert any(e.startswith(message) for e in errors), errors


def test_generated_keys_are_valid_distinct_and_kept(good):
    made, added = secrets.complete({}, good)
    assert {"keystone_fernet_keys", "keystone_credential_keys",
            "keystone_db_password"} <= set(added)
    assert keystone.key_errors("keystone_fernet_keys", made["keystone_fernet_keys"], 3) == []
    again, added_again = secrets.complete(made, good)
    assert added_again == [] and again == made


class FakeSession:
    """keystoneauth1 Session stand-in: serves a catalog, records what is sent."""

    def __init__(self, services, endpoints):
        self.services, self.endpoints, self.sent = services, endpoints, []

    def get(self, url):
        body = {"services": self.services} if url.endswith("/services") else \
            {"endpoints": self.endpoints}
        return type("R", (), {"json": lambda self: body})()

    def patch(self, url, json):
        self.sent.append(("PATCH", url, json))

    def post(self, url, json):
        self.sent.append(("POST", url, json))

    def delete(self, url):
        self.sent.append(("DELETE", url))


@pytest.mark.parametrize("test", [True, False])
def test_catalog_sync_reports_and_only_writes_outside_test(good, test):
    services, endpoints = catalog_of(("e1", "s-ks", "public", "http://198.18.10.11:5000/v3"),
                                     ("e2", "s-ks", "internal", VIP_URL),
                                     ("e3", "s-ks", "admin", VIP_URL))
    fake = FakeSession(services, endpoints)
    mod = load("_modules", "ha_keystone", __grains__={"id": "ctl1"},
               __salt__={"ha_topology.get": lambda: good})
    mod._admin_session = lambda url, timeout=5: fake
    ret = mod.catalog_sync(test=test)
    assert ret["changes"] == {"catalog": ["identity public endpoint e1 points at "
                                          "http://198.18.10.11:5000/v3, not " + VIP_URL]}
    assert ret["result"] is (None if test else True)
    assert fake.sent == ([] if test else [
        ("PATCH", VIP_URL + "/endpoints/e1", {"endpoint": {"url": VIP_URL, "enabled": True}})])


def test_catalog_sync_changes_nothing_when_right(good):
    fake = FakeSession(*catalog_of(("e1", "s-ks", "public", VIP_URL),
                                   ("e2", "s-ks", "internal", VIP_URL),
                                   ("e3", "s-ks", "admin", VIP_URL)))
    mod = load("_modules", "ha_keystone", __grains__={"id": "ctl1"},
               __salt__={"ha_topology.get": lambda: good})
    mod._admin_session = lambda url, timeout=5: fake
    ret = mod.catalog_sync()
    assert ret["result"] is True and ret["changes"] == {} and fake.sent == []


def test_configured_state_hides_key_contents(good, tmp_path, monkeypatch):
    state = load("_states", "ha_keystone", __opts__={"test": True},
                 __salt__={"ha_keystone.files": lambda: {
                     str(tmp_path / "fernet-keys" / "0"): ("secret\n", 0o640, None, None),
                     str(tmp_path / "keystone.conf"): ("[DEFAULT]\n", 0o640, None, None)}})
    ret = state.configured()
    assert ret["result"] is None
    assert ret["changes"][str(tmp_path / "fernet-keys" / "0")] == "(key changed)"
    assert "+[DEFAULT]" in ret["changes"][str(tmp_path / "keystone.conf")]
    assert not (tmp_path / "keystone.conf").exists()
