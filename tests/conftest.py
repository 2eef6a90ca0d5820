"""Fixtures shared by the test modules.

``site`` is the fixture site (fixtures/server.py) on a free 127.0.0.1 port, one per test
module: modules set its state and fault switches themselves (and reset them), so one
module's switches never leak into another's. A module that needs a fresh site per test
(tests/test_fixture_site.py) defines its own.
"""

from __future__ import annotations

import pytest

from fixtures.server import FixtureSite


@pytest.fixture(scope="module")
def site():
    with FixtureSite() as s:
        yield s
