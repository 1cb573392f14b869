"""Monitoring settings sized for the demo's short run (a production deployment uses larger
drift windows and its own rules file)."""

from __future__ import annotations

from typing import Any

#: Drift windows small enough to fill within a few hundred calls of one app.
DEMO_DRIFT: dict[str, Any] = {
    "windows": {"reference_size": 80, "current_size": 50, "step": 10, "min_current": 30},
    "thresholds": {"consecutive": 1},
    "emit": "drifted",
}

#: Alert rules the demo's incidents should trip.
DEMO_RULES: dict[str, Any] = {
    "defaults": {"renotify": None},
    "rules": [
        {
            "name": "user-cost-spike",
            "description": "One user spent more than $0.20 in 5 minutes.",
            "series": "user",
            "metric": "cost_usd",
            "aggregate": "sum",
            "window": "5m",
            "threshold": 0.2,
            "group_by": ["app", "user_id"],
            "severity": "high",
            "summary": "{user_id} spent ${value} on {app} in 5 minutes",
        },
        {
            "name": "topic-drift",
            "description": "Prompts or responses of a model drifted.",
            "series": "drift",
            "metric": "drifted",
            "aggregate": "max",
            "window": "5m",
            "threshold": 0.5,
            "group_by": ["app", "model", "target"],
            "severity": "medium",
            "summary": "{target} of {app}/{model} drifted",
        },
        {
            "name": "toxicity-rate-high",
            "description": "More than 2 % of an app's calls were toxic.",
            "metric": "toxicity_rate",
            "aggregate": "avg",
            "window": "5m",
            "threshold": 0.02,
            "min_weight": 20,
            "group_by": ["app"],
            "severity": "high",
            "summary": "{app}: toxicity rate {value}",
        },
        {
            "name": "injection-attempts",
            "description": "Prompt-injection attempts were seen.",
            "metric": "injection_rate",
            "aggregate": "max",
            "window": "5m",
            "threshold": 0.0,
            "group_by": ["app"],
            "severity": "high",
            "summary": "{app}: prompt injection attempts",
        },
        {
            "name": "anomaly-high",
            "description": "An anomaly of high severity or worse.",
            "series": "anomaly",
            "metric": "anomaly_severity",
            "aggregate": "max",
            "window": "5m",
            "op": ">=",
            "threshold": 3,
            "group_by": ["app", "metric"],
            "severity": "high",
            "summary": "{app}: anomalous {metric}",
        },
    ],
}
