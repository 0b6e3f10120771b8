import copy
import os

import pytest
import yaml

from hastack import topology

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def good():
    """The example topology from pillar/ with valid secrets: a deep copy per test."""
    with open(os.path.join(REPO, "pillar", "hastack", "topology.sls")) as f:
        topo = yaml.safe_load(f)["hastack"]
    topo["secrets"] = {key: "s3cr3t-%s-%s" % (key, "x" * 8) for key in topology.SECRETS}
    topo["secrets"]["rabbitmq_users"] = {"openstack": "s3cr3t-openstack-user-xyz"}
    return copy.deepcopy(topo)
