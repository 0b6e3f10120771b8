"""A session that stops ends its processes, but bridges, mounts and cgroups stay; the next
`hastack lab up` (CI on the same machine) must clear them and come up. Runs last: it replaces
the shared lab. The new lab is not deployed (`--no-deploy`): clearing and booting are what
this tests, and every other session deploys with `hastack lab up`; `make test` runs it after
the chaos suite, with nothing left to use the lab."""

import os
import signal

import pytest

from conftest import NODES, hastack

pytestmark = pytest.mark.timeout(900)


def test_up_clears_a_stale_lab_left_by_a_dead_session(lab):
    # What a session's end does: every process it started dies; nothing is cleaned up.
    for node in lab.lab.all_nodes():
        leader, nspawn = node.leader(), node.nspawn_pid()
        os.kill(leader, signal.SIGKILL)
        os.kill(nspawn, signal.SIGKILL)
    os.killpg(lab.lab.master.pid(), signal.SIGKILL)
    lab.wait_for(lambda: lab.lab.master.pid() is None, timeout=20, what="the master to die")
    with open("/proc/self/mounts") as f:
        assert any(lab.lab.dir in line for line in f), "expected the overlays to stay mounted"

    out = hastack("lab", "up", "--no-deploy").stdout
    assert "clearing a stale lab" in out
    assert lab.ping() == set(NODES)
