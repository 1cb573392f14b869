"""The alert lifecycle: pending → firing → resolved, incidents, re-notify, silences.

:class:`AlertEngine` is fed per-minute points (plus drift and anomaly records) and ticked at
event-time instants. Each tick evaluates every rule, moves alerts through their states,
builds notifications per incident and enqueues them in the :class:`~alerts.outbox.Outbox`
together with the new engine state, in one transaction. A restarted engine reloads that state,
so a state change is notified once.

Call ``tick(now)`` with ``now`` at a boundary of closed minutes (e.g. the aggregator's
watermark minus its lateness, floored to the minute).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Protocol

from lightkeeper.alerts.evaluator import Evaluation, RuleEvaluator, points_from_anomalies, points_from_drift
from lightkeeper.alerts.notification import Notification, NotificationKind
from lightkeeper.alerts.outbox import Outbox
from lightkeeper.alerts.rules import SEVERITY_RANK, Rule
from lightkeeper.alerts.silences import SilenceStore
from lightkeeper.alerts.sql import render_sql
from lightkeeper.alerts.state import ActiveAlert, Incident, dedup_key
from lightkeeper.ids import uuid7_str
from lightkeeper.metric_point import MetricPoint
from lightkeeper.schemas.events import utcnow
from lightkeeper.schemas.records import (
    AlertRecord,
    AlertState,
    AnomalyRecord,
    DeliveryStatus,
    DriftRecord,
    Severity,
)

log = logging.getLogger(__name__)


class AlertHistory(Protocol):
    """Where alert records go (ClickHouse via :class:`lightkeeper.alerts.store.StoreHistory`, or a list)."""

    def write(self, records: list[AlertRecord]) -> None: ...


class _SafeDict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class AlertEngine:
    """Rules → alerts → incidents → notifications (in the outbox) and history records."""

    def __init__(
        self,
        rules: Iterable[Rule],
        *,
        outbox: Outbox | None = None,
        silences: SilenceStore | None = None,
        history: AlertHistory | None = None,
        default_routes: Iterable[str] = (),
        route_min_severity: dict[str, Severity | None] | None = None,
        database: str = "lightkeeper",
        wallclock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.rules = {r.name: r for r in rules}
        self.evaluator = RuleEvaluator(self.rules.values())
        self.outbox = outbox
        self.silences = silences
        self.history = history
        self.default_routes = tuple(default_routes)
        self.route_min_severity = route_min_severity or {}
        self.database = database
        self._wallclock = wallclock
        self._last_stamp = datetime.min.replace(tzinfo=utcnow().tzinfo)
        self.alerts: dict[str, ActiveAlert] = {}
        self.incidents: dict[str, Incident] = {}
        self._first_minute: datetime | None = None
        self.notifications_sent: list[Notification] = []
        self._pending_enqueue: list[Notification] = []
        self._dirty = False
        if outbox is not None:
            self._load_state(outbox)

    # -- input ------------------------------------------------------------------------------
    def observe(self, points: Iterable[MetricPoint]) -> None:
        """Buffer per-minute points (closed minutes) for evaluation."""
        pts = list(points)
        self.evaluator.observe(pts)
        for p in pts:
            if self._first_minute is None or p.minute < self._first_minute:
                self._first_minute = p.minute

    def observe_partial(self, points: Iterable[MetricPoint]) -> None:
        """Provisional points of still-open minutes (replacing the previous ones): lets
        streaming rules fire within seconds instead of when the minute closes."""
        self.evaluator.set_partial(points)

    def observe_drift(self, records: Iterable[DriftRecord]) -> None:
        self.observe(points_from_drift(records))

    def observe_anomalies(self, records: Iterable[AnomalyRecord]) -> None:
        self.observe(points_from_anomalies(records))

    # -- evaluation -------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[Notification]:
        """Evaluate every rule at ``now`` (event time); returns the notifications enqueued."""
        records: list[AlertRecord] = []
        evals = {dedup_key(e.rule.name, e.labels): e for e in self.evaluator.evaluate(now)}
        for key, ev in evals.items():
            if ev.breached:
                self._breached(key, ev, now, records)
        for key, alert in list(self.alerts.items()):
            current = evals.get(key)
            rule = self.rules.get(alert.rule)
            if current is not None and current.breached and rule is not None:
                continue
            if rule is not None and not self._covered(rule, now):
                continue  # no full window of data since start: too early to call it resolved
            self._clear(key, alert, now, records)
        notes = self._notify(now, records)
        self._persist(notes, now)
        if self.history is not None and records:
            try:
                self.history.write(records)
            except Exception as exc:  # history is best effort; notifications are not
                log.warning("could not record alert history: %s", exc)
        self.notifications_sent.extend(notes)
        return notes

    def _covered(self, rule: Rule, now: datetime) -> bool:
        return self._first_minute is not None and self._first_minute <= now - rule.window

    def _breached(self, key: str, ev: Evaluation, now: datetime, records: list[AlertRecord]) -> None:
        rule = ev.rule
        alert = self.alerts.get(key)
        if alert is None:
            notify_labels = {k: ev.labels[k] for k in rule.notify_labels}
            alert = ActiveAlert(
                alert_id=uuid7_str(),
                rule=rule.name,
                dedup_key=key,
                incident_key=dedup_key(rule.name, notify_labels),
                group_labels=ev.labels,
                labels=self._labels(rule, ev.labels),
                started_at=now,
            )
            self.alerts[key] = alert
            self._dirty = True
            if rule.for_ > timedelta(0):
                alert.value = ev.value
                records.append(self._record(rule, alert, DeliveryStatus.SKIPPED))
        alert.value, alert.top = ev.value, ev.top
        if alert.state == "pending" and now - alert.started_at >= rule.for_:
            alert.state, alert.fired_at = "firing", now
            self._dirty = True
            records.append(self._record(rule, alert, DeliveryStatus.QUEUED))
            inc = self.incidents.get(alert.incident_key)
            if inc is None:
                labels = self._labels(rule, {k: ev.labels[k] for k in rule.notify_labels})
                inc = Incident(
                    key=alert.incident_key,
                    rule=rule.name,
                    labels=labels,
                    opened_at=now,
                    notify_at=now + rule.group_wait,
                )
                self.incidents[inc.key] = inc
            inc.members.append(key)
            inc.dirty = True

    def _clear(self, key: str, alert: ActiveAlert, now: datetime, records: list[AlertRecord]) -> None:
        rule = self.rules.get(alert.rule)
        del self.alerts[key]
        self._dirty = True
        if alert.state == "pending":
            alert.state, alert.resolved_at = "resolved", now
            if rule is not None and rule.for_ > timedelta(0):
                records.append(self._record(rule, alert, DeliveryStatus.SKIPPED))
            return
        alert.state, alert.resolved_at = "resolved", now
        inc = self.incidents.get(alert.incident_key)
        if inc is not None:
            inc.members = [m for m in inc.members if m != key]
            inc.resolved.append(alert.item())  # reported with the incident's next message
        status = DeliveryStatus.QUEUED if inc is not None and inc.notified else DeliveryStatus.SKIPPED
        if rule is not None:
            records.append(self._record(rule, alert, status))

    def _labels(self, rule: Rule, group: dict[str, str]) -> dict[str, str]:
        return {**rule.labels, **group, "alertname": rule.name, "severity": rule.severity.value}

    # -- notifications ----------------------------------------------------------------------
    def _notify(self, now: datetime, records: list[AlertRecord]) -> list[Notification]:
        notes: list[Notification] = []
        for key, inc in list(self.incidents.items()):
            rule = self.rules.get(inc.rule)
            if rule is None:
                del self.incidents[key]
                self._dirty = True
                continue
            kind: NotificationKind | None = None
            if not inc.members:
                del self.incidents[key]
                kind = "resolved" if inc.notified else None
            elif not inc.notified:
                kind = "firing" if now >= inc.notify_at else None
            elif (
                inc.dirty
                and inc.last_notified_at is not None
                and now >= inc.last_notified_at + rule.group_wait
            ):
                kind = "update"
            elif (
                rule.renotify is not None
                and inc.last_notified_at is not None
                and now - inc.last_notified_at >= rule.renotify
            ):
                kind = "renotify"
            if kind is None:
                continue
            self._dirty = True
            silence = self.silences.match(inc.labels, now) if self.silences is not None else None
            if silence is not None:
                if kind in ("firing", "update") and not inc.notified and inc.silenced_seq != inc.seq:
                    inc.silenced_seq = inc.seq
                    note = self._build(rule, inc, kind, now)
                    note.description = f"silenced by {silence.id}"
                    self._pending_enqueue.append(note)
                    records.extend(self._delivery_records(rule, inc, DeliveryStatus.SILENCED))
                if kind == "resolved":
                    pass  # a resolve must still reach receivers that saw the trigger
                else:
                    continue
            note = self._build(rule, inc, kind, now)
            notes.append(note)
            inc.seq += 1
            inc.notified = kind != "resolved"
            inc.last_notified_at = now
            inc.dirty = False
            inc.resolved = []
        return notes

    def _build(self, rule: Rule, inc: Incident, kind: NotificationKind, now: datetime) -> Notification:
        members = [self.alerts[m] for m in inc.members if m in self.alerts]
        items = [a.item() for a in members] + list(inc.resolved)
        value = max((a.value for a in members if a.value is not None), default=None)
        if value is None and inc.resolved:
            value = inc.resolved[-1].value
        fmt = _SafeDict(
            {
                **inc.labels,
                "value": f"{value:.4g}" if value is not None else "n/a",
                "threshold": f"{rule.threshold:g}",
                "count": str(len(members)),
            }
        )
        summary = (
            rule.summary.format_map(fmt)
            if rule.summary
            else (
                f"{rule.name}: {rule.aggregate}({rule.metric}) over {_human(rule.window)} = "
                f"{fmt['value']} {rule.op} {rule.threshold:g}"
            )
        )
        return Notification(
            key=f"{inc.key}:{inc.opened_at.strftime('%Y%m%dT%H%M%S')}:{inc.seq}:{kind}",
            kind=kind,
            incident_key=inc.key,
            rule=rule.name,
            severity=rule.severity,
            summary=summary,
            description=rule.description,
            labels=inc.labels,
            metric=rule.metric,
            aggregate=rule.aggregate,
            window_s=rule.window.total_seconds(),
            op=rule.op,
            threshold=rule.threshold,
            value=value,
            alerts=items,
            sql=render_sql(
                rule, {k: inc.labels[k] for k in rule.notify_labels}, now - rule.window, now, self.database
            ),
            event_time=now,
            created_at=self._wallclock(),
        )

    def routes_for(self, rule: Rule) -> list[str]:
        routes = rule.routes or self.default_routes
        rank = SEVERITY_RANK[rule.severity.value]
        out = []
        for r in routes:
            floor = self.route_min_severity.get(r)
            if floor is None or rank >= SEVERITY_RANK[floor.value]:
                out.append(r)
        return out

    def _persist(self, notes: list[Notification], now: datetime) -> None:
        silenced, self._pending_enqueue = self._pending_enqueue, []
        dirty, self._dirty = self._dirty, False
        if self.outbox is None or not (dirty or silenced or notes):
            return
        stamp = self._wallclock().timestamp()
        with self.outbox.transaction() as conn:
            for note in silenced:
                for route in self.routes_for(self.rules[note.rule]):
                    self.outbox.enqueue(
                        f"{note.key}|{route}", route, note.to_json(), stamp, status="silenced", conn=conn
                    )
            for note in notes:
                for route in self.routes_for(self.rules[note.rule]):
                    self.outbox.enqueue(f"{note.key}|{route}", route, note.to_json(), stamp, conn=conn)
            existing = {("alert", k) for k, _ in self.outbox.load_state("alert")}
            existing |= {("incident", k) for k, _ in self.outbox.load_state("incident")}
            rows = [("alert", k, a.model_dump_json()) for k, a in self.alerts.items()]
            rows += [("incident", k, i.model_dump_json()) for k, i in self.incidents.items()]
            live = {("alert", k) for k in self.alerts} | {("incident", k) for k in self.incidents}
            self.outbox.save_state(rows, existing - live, conn=conn)

    def _load_state(self, outbox: Outbox) -> None:
        for key, data in outbox.load_state("alert"):
            alert = ActiveAlert.model_validate_json(data)
            if alert.rule in self.rules:
                self.alerts[key] = alert
        for key, data in outbox.load_state("incident"):
            inc = Incident.model_validate_json(data)
            if inc.rule in self.rules:
                self.incidents[key] = inc

    # -- history ----------------------------------------------------------------------------
    def _stamp(self) -> datetime:
        now = self._wallclock()
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return now

    def _record(self, rule: Rule, alert: ActiveAlert, status: DeliveryStatus) -> AlertRecord:
        return AlertRecord(
            alert_id=alert.alert_id,
            rule=rule.name,
            dedup_key=alert.dedup_key,
            state=AlertState(alert.state),
            severity=rule.severity,
            labels=alert.labels,
            value=alert.value,
            threshold=rule.threshold,
            summary=f"{rule.aggregate}({rule.metric}) {rule.op} {rule.threshold:g}",
            route=",".join(self.routes_for(rule)),
            delivery_status=status,
            started_at=alert.started_at,
            resolved_at=alert.resolved_at,
            updated_at=self._stamp(),
        )

    def _delivery_records(self, rule: Rule, inc: Incident, status: DeliveryStatus) -> list[AlertRecord]:
        return [self._record(rule, self.alerts[m], status) for m in inc.members if m in self.alerts]


def _human(td: timedelta) -> str:
    s = int(td.total_seconds())
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % n == 0:
            return f"{s // n}{unit}"
    return f"{s}s"
