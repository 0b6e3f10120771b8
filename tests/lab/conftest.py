"""Lab tests: one lab for the whole session, brought up with the user's command
(`hastack lab up`) and torn down at the end, pass or fail. `make test` also runs
`hastack lab down` after pytest, in case pytest itself dies. A developer iterating on one
test file can keep the lab for the next run with HASTACK_KEEP_LAB=1 (`up` converges)."""

import pytest

from hastack.lab.client import (NODES, LabClient, add_diagnostics, hastack,  # noqa: F401
                                lab_session)


@pytest.fixture(scope="session")
def lab():
    yield from lab_session()


@pytest.fixture(scope="module")
def healing_paused(lab):
    """For a module that breaks things on purpose to test another mechanism (Galera's
    recovery refusals, keepalived's failover): auto-healing paused, as an operator would
    for planned work, and resumed after."""
    res = lab.salt_run("hastack.heal_pause", "reason=lab test of another mechanism")
    assert res.returncode == 0, res.stdout + res.stderr
    yield
    lab.salt_run("hastack.heal_resume")


LAST = ["test_membership", "test_neutron_pacemaker", "test_stale"]


def pytest_collection_modifyitems(items):
    """test_membership.py grows and shrinks the shared lab, test_neutron_pacemaker.py
    takes the network nodes into Pacemaker and out again (its agents' resources stay in the
    CIB, stopped), and test_stale.py kills it to test
    `hastack lab up` on what is left: they run after every other lab test, in that order,
    whatever the file order."""
    items.sort(key=lambda item: LAST.index(item.module.__name__) + 1
               if item.module.__name__ in LAST else 0)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the lab's state (heal log, runner steps, MariaDB's
    units and logs): CI keeps only the output."""
    outcome = yield
    add_diagnostics(outcome.get_result(), call.when)
