"""Alerting: YAML rules over per-minute series, the pending → firing → resolved lifecycle with
dedup keys, grouping, re-notify and silences, a persistent outbox, and delivery to Slack,
PagerDuty and webhooks with retries. See ``docs/alerts.md``.

Public surface (channels live in :mod:`alerts.delivery`; they import slack-sdk/httpx lazily)::

    engine = AlertEngine(load_rules(path), outbox=Outbox(file), silences=SilenceStore(file))
    engine.observe(points); engine.observe_anomalies(records); engine.observe_drift(records)
    engine.tick(now)                      # event time; enqueues notifications
    await Dispatcher(outbox, build_channels(settings.routes)).run_once()
"""

from alerts.evaluator import Evaluation, RuleEvaluator, points_from_anomalies, points_from_drift
from alerts.lifecycle import AlertEngine, AlertHistory
from alerts.notification import AlertItem, Notification
from alerts.outbox import Outbox
from alerts.rules import Rule, load_rules, parse_duration, parse_rules
from alerts.settings import AlertSettings, RetrySettings, RouteConfig
from alerts.silences import Matcher, Silence, SilenceStore
from alerts.state import dedup_key

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
