"""The sidecar agent: LLM proxy, OTLP receiver and event ingest."""

#: The agent's listen port unless configured (``port``); the CLI help quotes it.
DEFAULT_AGENT_PORT = 8319
