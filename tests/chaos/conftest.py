"""The chaos suite: its own pytest session on the lab (`make test` keeps the lab of the lab
tests for it, then tears it down)."""

import pytest

from hastack.lab.client import add_diagnostics, lab_session


@pytest.fixture(scope="session")
def lab():
    yield from lab_session()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the lab's state (heal log, runner steps, MariaDB's
    units and logs): CI keeps only the output."""
    outcome = yield
    add_diagnostics(outcome.get_result(), call.when)
