"""Fixtures of the alerting tests."""

from __future__ import annotations

import pytest
from alert_helpers import make_note

from lightkeeper.alerts.notification import Notification


@pytest.fixture
def note() -> Notification:
    return make_note()
