import os
import stat

import yaml

from hastack import neutron, secrets, topology


def test_complete_generates_every_secret_valid():
    values, added = secrets.complete({})
    assert sorted(added) == sorted(secrets.GENERATED)
    for key in topology.SECRETS:
        assert topology.validate_secret(key, values[key]) == []
    assert values["rabbitmq_cookie"].isalpha()


def test_complete_keeps_good_values_and_replaces_weak_ones():
    keep = "Zq8-kept-value-1234567"
    values, added = secrets.complete({"galera_root_password": keep,
                                      "galera_sst_password": "guest"})
    assert values["galera_root_password"] == keep
    assert values["galera_sst_password"] != "guest"
    assert "galera_root_password" not in added and "galera_sst_password" in added


def test_write_is_private_and_idempotent(tmp_path):
    path = str(tmp_path / "pillar" / "secrets.sls")
    assert sorted(secrets.write(path)) == sorted(secrets.GENERATED)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = open(path).read()
    assert secrets.write(path) == []
    assert open(path).read() == first
    doc = yaml.safe_load(first)
    assert set(doc["hastack"]["secrets"]) == set(secrets.GENERATED)


def test_neutron_secrets_only_when_the_topology_has_neutron(good):
    del good["secrets"]
    _, added = secrets.complete({}, good)
    assert not set(neutron.SECRETS) & set(added)
    good["services"]["neutron"] = {"nodes": ["ctl1"], "port": 9696, "vip": "api"}
    values, added = secrets.complete({}, good)
    assert set(neutron.SECRETS) <= set(added)
    for key in neutron.SECRETS:
        assert topology.validate_secret(key, values[key]) == []
