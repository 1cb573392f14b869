"""Text utilities shared by the agent and the processors: PII patterns, validators and
redaction (:mod:`lightkeeper.text.pii`) and the local token estimate
(:mod:`lightkeeper.text.tokens`). Standard library only: the lean agent imports them."""
