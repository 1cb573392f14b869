"""Alert delivery, whole system (embedded runtime -> rules -> outbox -> loopback Slack and
PagerDuty), with failing receivers and a restart mid-delivery: each notification once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _support.chaos_alerts import alert_delivery


@pytest.mark.timeout(120)
async def test_each_notification_delivered_once_despite_failures_and_restart(
    tmp_path: Path, store_client: Any, store_database: str
) -> None:
    result = await alert_delivery(tmp_path, store_client, store_database, apps=3)
    print(result)
    assert result.note.startswith("0 delivered before the restart"), result  # restart mid-delivery
    assert result.notif_sent == result.notif_expected == 6, result
