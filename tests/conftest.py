"""Shared fixtures. Each fixture module lives in ``lightkeeper.testing`` (test doubles ship
with the library) and is registered here as a pytest plugin."""

import importlib.util

_PLUGINS = [
    "lightkeeper.testing.kafka_fixtures",
    "lightkeeper.testing.store_fixtures",
    "lightkeeper.testing.agent_fixtures",
    "lightkeeper.testing.alert_fixtures",
    "lightkeeper.testing.demo_fixtures",
]

pytest_plugins = [name for name in _PLUGINS if importlib.util.find_spec(name) is not None]
