import base64
import copy
import os

import pytest
import yaml

from hastack import keystone, topology

# Fixed, valid Fernet keys (32 bytes each, URL-safe base64): tests stay repeatable.
FERNET_KEYS = [base64.urlsafe_b64encode(bytes([i]) * 32).decode() for i in (1, 2, 3)]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def good():
    """The example topology from pillar/ with valid secrets: a deep copy per test."""
    with open(os.path.join(REPO, "pillar", "hastack", "topology.sls")) as f:
        topo = yaml.safe_load(f)["hastack"]
    topo["secrets"] = {key: "s3cr3t-%s-%s" % (key, "x" * 8) for key in topology.SECRETS}
    topo["secrets"]["rabbitmq_users"] = {"openstack": "s3cr3t-openstack-user-xyz"}
    topo["secrets"]["keystone_fernet_keys"] = FERNET_KEYS
    topo["secrets"]["keystone_credential_keys"] = FERNET_KEYS[:keystone.CREDENTIAL_KEYS]
    return copy.deepcopy(topo)
