"""The pricing table: model lookup by id, alias, normalized name or longest known prefix."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from lightkeeper.processors.pricing._model import ModelPrice

#: Characters that may follow a known id when matching by prefix (``gpt-4o-mini-ft-x``).
_BOUNDARY = "-:@/._ "
_MIN_PREFIX = 4
_DATE_SUFFIX = re.compile(r"(?:[-@](?:20\d{2}-?\d{2}-?\d{2}|\d{4}|\d{2}-\d{2}|\d{2}-20\d{2}))+$")
_VERSION_SUFFIX = re.compile(r"-v\d+(?::\d+)?$")
_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|global|us-gov|jp|au)\.")
_OPENROUTER_SUFFIX = re.compile(r":(?:free|beta|extended|thinking|nitro|floor|online)$")
_PATH_PREFIXES = ("models/", "publishers/google/models/", "publishers/anthropic/models/")


class PricingTable:
    """Every priced model with an index over ids, aliases and provider names.

    ``version`` names the table (the data file's ``version``, plus ``+<digest>`` when the
    deployment configured overrides); it is stored with each event's cost.
    """

    def __init__(
        self,
        version: str,
        models: Iterable[ModelPrice],
        provider_names: Mapping[str, str],
    ) -> None:
        self.version = version
        self.models: list[ModelPrice] = list(models)
        self._provider_names = {k.lower(): v for k, v in provider_names.items()}
        # lowercase id/alias -> candidates, in table order (origin providers come first)
        self._index: dict[str, list[ModelPrice]] = {}
        for model in self.models:
            for name in model.names:
                bucket = self._index.setdefault(name.lower(), [])
                if model not in bucket:
                    bucket.append(model)
        self._known_prefixes = sorted(self._index, key=len, reverse=True)
        self._cache: dict[tuple[str, str], ModelPrice | None] = {}

    def __len__(self) -> int:
        return len(self.models)

    def provider_key(self, provider: str | None) -> str | None:
        """The table's provider key for a provider name (``mistral`` -> ``mistral_ai``)."""
        if not provider:
            return None
        return self._provider_names.get(provider.lower())

    def lookup(self, model: str | None, provider: str | None = None) -> ModelPrice | None:
        """The price entry for ``model`` served by ``provider``; None when unknown.

        Order: exact id or alias (preferring the given provider) -> normalized name (lowercase,
        provider/region/path prefixes, ``-latest``, ``@date``, date and ``-vN`` suffixes
        stripped) -> the longest known id that prefixes the name at a word boundary.
        Fine-tuned ids (``ft:...``) are never guessed: configure them as custom models.
        """
        if not model:
            return None
        key = (model, provider or "")
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._resolve(model, self.provider_key(provider))
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = found
        return found

    # -- resolution -----------------------------------------------------------------------
    def _pick(self, name: str, provider: str | None) -> ModelPrice | None:
        bucket = self._index.get(name)
        if not bucket:
            return None
        if provider is not None:
            for candidate in bucket:
                if candidate.provider == provider:
                    return candidate
        return bucket[0]

    def _resolve(self, model: str, provider: str | None) -> ModelPrice | None:
        name = model.strip().lower()
        found = self._pick(name, provider)
        if found is not None:
            return found
        if name.startswith("ft:") or ":ft:" in name:
            return None
        for candidate in _normalized(name, self._provider_names):
            found = self._pick(candidate, provider)
            if found is not None:
                return found
        return self._by_prefix(name, provider) or next(
            (m for c in _normalized(name, self._provider_names) if (m := self._by_prefix(c, provider))), None
        )

    def _by_prefix(self, name: str, provider: str | None) -> ModelPrice | None:
        for known in self._known_prefixes:
            if len(known) < _MIN_PREFIX or len(known) >= len(name):
                continue
            if name.startswith(known) and name[len(known)] in _BOUNDARY:
                return self._pick(known, provider)
        return None


def _normalized(name: str, provider_names: Mapping[str, Any]) -> list[str]:
    """Progressively normalized spellings of a model id, most specific first."""
    out: list[str] = []

    def add(value: str) -> None:
        if value and value not in out and value != name:
            out.append(value)

    current = name
    for prefix in _PATH_PREFIXES:
        if current.startswith(prefix):
            current = current[len(prefix) :]
    current = _REGION_PREFIX.sub("", current)
    add(current)
    # provider-style prefixes: openai/gpt-4o, azure/gpt-4o, bedrock/anthropic.claude-...
    while "/" in current:
        head, rest = current.split("/", 1)
        if head in provider_names or head in {
            "azure",
            "bedrock",
            "vertex_ai",
            "openrouter",
            "meta",
            "google",
        }:
            current = rest
            add(current)
        else:
            break
    # the part after the last slash (openrouter style vendor/model)
    if "/" in current:
        add(current.rsplit("/", 1)[1])
    for variant in list(out) or [current]:
        stripped = _OPENROUTER_SUFFIX.sub("", variant)
        add(stripped)
        stripped = stripped.removesuffix("-latest")
        add(stripped)
        if "." in stripped and stripped.split(".", 1)[0] in {
            "anthropic",
            "meta",
            "mistral",
            "amazon",
            "cohere",
        }:
            add(stripped.split(".", 1)[1])
        no_version = _VERSION_SUFFIX.sub("", stripped)
        add(no_version)
        no_date = _DATE_SUFFIX.sub("", no_version)
        add(no_date)
    return out
