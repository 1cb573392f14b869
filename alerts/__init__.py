"""Alerting: YAML rules over per-minute series, the pending → firing → resolved lifecycle with
dedup keys, grouping, re-notify and silences, a persistent outbox, and delivery to Slack,
PagerDuty and webhooks with retries. See ``docs/alerts.md``.

Public surface (channels live in :mod:`lightkeeper.alerts.delivery`; they import slack-sdk/httpx lazily)::

    engine = AlertEngine(load_rules(path), outbox=Outbox(file), silences=SilenceStore(file))
    engine.observe(points); engine.observe_anomalies(records); engine.observe_drift(records)
    engine.tick(now)                      # event time; enqueues notifications
    await Dispatcher(outbox, build_channels(settings.routes)).run_once()
"""

from lightkeeper.alerts.evaluator import Evaluation, RuleEvaluator, points_from_anomalies, points_from_drift
from lightkeeper.alerts.lifecycle import AlertEngine, AlertHistory
from lightkeeper.alerts.notification import AlertItem, Notification
from lightkeeper.alerts.outbox import Outbox
from lightkeeper.alerts.rules import Rule, load_rules, parse_duration, parse_rules
from lightkeeper.alerts.settings import AlertSettings, RetrySettings, RouteConfig
from lightkeeper.alerts.silences import Matcher, Silence, SilenceStore
from lightkeeper.alerts.state import dedup_key

__all__ = [
    "AlertEngine",
    "AlertHistory",
    "AlertItem",
    "AlertSettings",
    "Evaluation",
    "Matcher",
    "Notification",
    "Outbox",
    "RetrySettings",
    "RouteConfig",
    "Rule",
    "RuleEvaluator",
    "Silence",
    "SilenceStore",
    "dedup_key",
    "load_rules",
    "parse_duration",
    "parse_rules",
    "points_from_anomalies",
    "points_from_drift",
]
