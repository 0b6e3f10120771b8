"""The lab's shape: names, addresses and the topology it generates for any size."""

import os

import pytest

from hastack import secrets, topology
from hastack.lab import image, layout

SECRETS, _ = secrets.complete({}, layout.make_topology(3, 2))


@pytest.mark.parametrize("controllers,network", [(3, 2), (1, 0), (5, 1), (3, 0), (2, 1)])
def test_generated_topology_is_valid(controllers, network):
    topo = dict(layout.make_topology(controllers, network), secrets=SECRETS)
    assert topology.validate(topo) == []


def test_default_lab_addresses():
    topo = layout.make_topology(3, 2)
    assert topology.hosts_entries(topo) == {
        "ctl1": "198.18.10.11", "ctl2": "198.18.10.12", "ctl3": "198.18.10.13",
        "net1": "198.18.10.21", "net2": "198.18.10.22"}
    assert topo["vips"]["api"]["address"] == "198.18.10.100"
    assert str(layout.HOST) == "198.18.10.1"


def test_a_fourth_controller_keeps_every_other_address():
    three, four = (topology.hosts_entries(layout.make_topology(n, 2)) for n in (3, 4))
    assert four == dict(three, ctl4="198.18.10.14")


def test_a_name_outside_the_lab_scheme_is_refused():
    with pytest.raises(ValueError, match="ctl1..ctl9"):
        layout.node_address("db7")
    with pytest.raises(ValueError):
        layout.node_address("ctl10")


def test_two_controllers_use_a_network_node_as_arbitrator():
    topo = layout.make_topology(2, 1)
    assert topo["services"]["galera"]["arbitrator"] == "net1"


def test_two_controllers_without_a_third_vote_are_refused():
    topo = dict(layout.make_topology(2, 0), secrets=SECRETS)
    assert any(e.startswith("hastack:services:galera:nodes") and "even cluster" in e
               for e in topology.validate(topo))


def test_host_veth_name_fits_the_kernel_limit():
    assert layout.host_veth("ctl1") == "vb-ctl1"
    assert len(layout.host_veth("a-very-long-node-name")) == 15


def test_recipe_hash_is_stable_and_covers_the_packages(monkeypatch):
    first = image.recipe_hash()
    assert first == image.recipe_hash()
    monkeypatch.setattr(image, "PACKAGES", image.PACKAGES + ["tcpdump"])
    assert image.recipe_hash() != first


@pytest.mark.parametrize("text,mirror", [
    ("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n",
     "http://mirror.example/debian"),
    ("deb http://security.example/debian-security bookworm-security main\n"
     "deb http://mirror.example/debian bookworm main\n", "http://mirror.example/debian"),
    ("# nothing here\n", None),
])
def test_mirror_from_sources(text, mirror):
    assert image.mirror_from_sources(text) == mirror


def test_prune_keeps_only_the_current_recipe(tmp_path):
    images = tmp_path / "images"
    current = images / image.recipe_hash()
    (current / "rootfs").mkdir(parents=True)
    (images / "0123456789abcdef" / "rootfs").mkdir(parents=True)
    (images / (image.recipe_hash() + ".build")).mkdir()
    removed = image.prune(str(tmp_path))
    assert sorted(p.rsplit("/", 1)[-1] for p in removed) == sorted(
        ["0123456789abcdef", image.recipe_hash() + ".build"])
    assert os.listdir(images) == [image.recipe_hash()]


def test_pidfile_argv_names_a_live_process_only(tmp_path):
    from hastack.lab import proc

    path = tmp_path / "x.pid"
    path.write_text("%d\n" % os.getpid())
    pid, argv = proc.pidfile_argv(str(path))
    assert pid == os.getpid() and b"python" in argv[0]
    path.write_text("not a pid")
    assert proc.pidfile_argv(str(path)) == (None, [])
    assert proc.pidfile_argv(str(tmp_path / "missing.pid")) == (None, [])


def test_longest_gap_counts_the_stretches_at_both_ends():
    from hastack.lab.load import longest_gap

    # Acknowledgements at 1, 2 and 7 between a fault at 0 and green at 8: the outage a
    # client saw is 2 -> 7; times outside the window do not count.
    assert longest_gap([-3, 1, 2, 7, 9], 0, 8) == 5
    # Nothing acknowledged at all: the whole window.
    assert longest_gap([], 0, 8) == 8
    # The last acknowledgement long before the end: the tail is the gap.
    assert longest_gap([0.5, 1.0], 0, 8) == 7
