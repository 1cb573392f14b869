"""One-call wiring of the alerting side for a worker or the embedded runtime.

    engine, dispatcher = build_alerting(AlertSettings.load(config), history=StoreHistory(client))
    ...  # per batch: engine.observe(...); engine.tick(now)
    await dispatcher.run_once()      # or: task = asyncio.create_task(dispatcher.run(stop))

The engine and the dispatcher share the settings' outbox file; silences come from the
settings' silences file (the one ``lightkeeper alerts silence`` edits).
"""

from __future__ import annotations

from collections.abc import Iterable

from lightkeeper.alerts.delivery import Dispatcher, RetryPolicy, build_channels
from lightkeeper.alerts.lifecycle import AlertEngine, AlertHistory
from lightkeeper.alerts.outbox import Outbox
from lightkeeper.alerts.rules import Rule, load_rules
from lightkeeper.alerts.settings import AlertSettings
from lightkeeper.alerts.silences import SilenceStore
from lightkeeper.errors import ConfigError


def build_alerting(
    settings: AlertSettings, *, rules: Iterable[Rule] | None = None, history: AlertHistory | None = None
) -> tuple[AlertEngine, Dispatcher]:
    """The engine (rules from ``rules`` or ``settings.rules_file``, validated against the
    configured routes) and a dispatcher for the configured routes."""
    routes = set(settings.routes)
    missing = [r for r in settings.default_routes if r not in routes]
    if missing:
        raise ConfigError(
            f"lightkeeper.alerts.default_routes: unknown route(s) {missing} (configured: {sorted(routes)})"
        )
    if rules is None:
        rules = load_rules(settings.rules_file, routes=routes) if settings.rules_file else []
    outbox = Outbox(settings.outbox_file)
    engine = AlertEngine(
        rules,
        outbox=outbox,
        silences=SilenceStore(settings.silences_file),
        history=history,
        default_routes=settings.default_routes,
        route_min_severity={name: cfg.min_severity for name, cfg in settings.routes.items()},
        database=settings.store.database,
    )
    dispatcher = Dispatcher(
        outbox,
        build_channels(settings.routes),
        policy=RetryPolicy(settings.retry),
        history=history.write if history is not None else None,
    )
    return engine, dispatcher
