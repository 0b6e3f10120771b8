"""The chaos suite: its own pytest session on the lab (`make test` keeps the lab of the lab
tests for it, then tears it down)."""

import pytest

from hastack.lab.client import lab_session


@pytest.fixture(scope="session")
def lab():
    yield from lab_session()
