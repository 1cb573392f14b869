"""PII detection / redaction (lightkeeper.text.pii) and the PII scorer."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightkeeper.processors.scoring.base import ScoreInput
from lightkeeper.processors.scoring.pii_scorer import PIIScorer
from lightkeeper.text import pii

#: The development data folder: $LIGHTKEEPER_DEV_DATA, else ``shared/data`` beside the checkout.
DATA = Path(os.environ.get("LIGHTKEEPER_DEV_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
PRESIDIO = DATA / "pii" / "presidio_dev" / "synth_dataset_v2_first750.json"


def types_of(text: str) -> list[tuple[str, str]]:
    return [(s.type, s.text) for s in pii.detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me: jane.o'hara+x@mail.example.co.uk", None),
        ("write to john.doe@example.com today", ("EMAIL", "john.doe@example.com")),
        ("card 4111 1111 1111 1111 please", ("CREDIT_CARD", "4111 1111 1111 1111")),
        ("card 4111-1111-1111-1111.", ("CREDIT_CARD", "4111-1111-1111-1111")),
        ("IBAN GB82 WEST 1234 5698 7654 32 and more", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("iban de89370400440532013000", ("IBAN", "de89370400440532013000")),
        ("SSN 123-45-6789", ("NATIONAL_ID", "123-45-6789")),
        ("my passport number is X1234567", ("NATIONAL_ID", "X1234567")),
        ("from 192.168.1.20 ok", ("IP_ADDRESS", "192.168.1.20")),
        ("v6 2001:db8::8a2e:370:7334 ok", ("IP_ADDRESS", "2001:db8::8a2e:370:7334")),
        (
            "key sk-proj-abcdefghijklmnopqrstuvwxyz123456",
            ("API_KEY", "sk-proj-abcdefghijklmnopqrstuvwxyz123456"),
        ),
        ("aws AKIAIOSFODNN7EXAMPLE", ("API_KEY", "AKIAIOSFODNN7EXAMPLE")),
        (
            "gh ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            ("API_KEY", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
        ),
        ("slack xoxb-123456789012-abcdefghij", ("API_KEY", "xoxb-123456789012-abcdefghij")),
        ("api_key = 'Zx8fQ2mR9pL4vK7s'", ("API_KEY", "Zx8fQ2mR9pL4vK7s")),
        ("call me at (415) 555-2671", ("PHONE", "(415) 555-2671")),
        ("reach +44 20 7946 0958 now", ("PHONE", "+44 20 7946 0958")),
        ("Dear Mr. John Smith,", ("PERSON", "John Smith")),
        ("my name is Anna Kowalski.", ("PERSON", "Anna Kowalski")),
        ("I live at 123 Main Street, Apt 4B.", ("ADDRESS", "123 Main Street, Apt 4B")),
        ("She was born on 2/8/1935.", ("DATE_OF_BIRTH", "2/8/1935")),
    ],
)
def test_detects(text: str, expected: tuple[str, str] | None) -> None:
    found = types_of(text)
    if expected is None:
        assert found and found[0][0] == "EMAIL"
    else:
        assert expected in found, found


def test_jwt() -> None:
    jwt = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    assert types_of(f"Authorization token {jwt} end") == [("API_KEY", jwt)]


@pytest.mark.parametrize(
    ("text", "wrong_type"),
    [
        ("card 4111 1111 1111 1112 fails Luhn", "CREDIT_CARD"),
        ("IBAN GB82 WEST 1234 5698 7654 33 has a bad checksum", "IBAN"),
        ("version 300.1.2.999 is not an ip", "IP_ADDRESS"),
        ("SSN 000-12-3456 is not valid", "NATIONAL_ID"),
        ("password = password", "API_KEY"),  # placeholder, not a secret
        ("password: hunter", "API_KEY"),  # too short / low entropy
        ("the meeting is at 12:30 on 2000-04-16", None),
        ("The weather is nice today and nothing personal is here.", None),
    ],
)
def test_rejects_invalid(text: str, wrong_type: str | None) -> None:
    found = pii.detect(text)
    if wrong_type is None:
        assert found == []
    else:
        assert wrong_type not in {s.type for s in found}, found
        assert all(s.score < pii.HIGH_CONFIDENCE for s in found), found


@pytest.mark.parametrize(
    "text",
    [
        "request id 550e8400-e29b-41d4-a716-446655440000 failed",
        "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
        "timestamp 2024-01-15T10:00:00Z and 2024-01-15 10:00:00",
        "upgrade to version 1.2.3 or 10.0.19045.2965",
        "price $1,234.56 for 3 items, total 12,345,678 units",
        "HTTP/1.1 200 OK, took 1234 ms, port 8080",
        "def f(x): return x * 1000 + 42  # line 120",
        "The meeting is on Monday at 10:30, room 4B.",
        "matrix [[1, 2, 3], [4, 5, 6]] and range(0, 100)",
        "Python 3.11.7 on Linux 5.15.0-89-generic x86_64",
        "coordinates 48.8584, 2.2945 near Paris",
        "New York City has 8,336,817 people as of 2019.",
        "ISBN 978-3-16-148410-0",
        "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "Summarize the Treaty of Versailles for me.",
    ],
)
def test_no_false_positives_on_technical_text(text: str) -> None:
    assert pii.detect(text) == []


def test_redact_placeholders_and_offsets() -> None:
    text = "Mail a@b.io, card 4111111111111111, ip 10.0.0.1, key AKIAIOSFODNN7EXAMPLE, SSN 123-45-6789."
    red, spans = pii.redact(text)
    assert red == "Mail <EMAIL>, card <CREDIT_CARD>, ip <IP_ADDRESS>, key <API_KEY>, SSN <NATIONAL_ID>."
    for s in spans:
        assert text[s.start : s.end] == s.text


def test_detect_sorted_and_non_overlapping() -> None:
    text = (
        "Name: Mary Jones\nPhone: 905-674-3793\nE-mail: MaryJones@example.com\n"
        "Address: 42 Elm Street, Suite 5\nCard 4111 1111 1111 1111, IBAN GB82WEST12345698765432"
    )
    spans = pii.detect(text)
    assert {s.type for s in spans} >= {"PERSON", "PHONE", "EMAIL", "ADDRESS", "CREDIT_CARD", "IBAN"}
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start


def test_types_filter_and_unknown_type() -> None:
    text = "a@b.io and 10.0.0.1"
    assert [s.type for s in pii.detect(text, ["ip_address"])] == ["IP_ADDRESS"]
    with pytest.raises(ValueError, match="unknown PII types"):
        pii.detect(text, ["SHOE_SIZE"])
    with pytest.raises(TypeError):
        pii.detect(b"bytes")  # type: ignore[arg-type]


def test_empty_and_plain_text() -> None:
    assert pii.detect("") == []
    assert pii.redact("nothing here") == ("nothing here", [])


@pytest.mark.parametrize(
    "attack",
    [
        "a" * 50_000 + "@",
        "a." * 25_000 + "@x",
        "1" * 50_000,
        "1 " * 25_000,
        "1-" * 25_000,
        "A" * 50_000,
        "Aa " * 20_000,
        "api_key=" + "x" * 50_000,
        "eyJ" + "a" * 20_000 + ".eyJ" + "b" * 20_000,
        ":" * 50_000,
        "1." * 25_000,
        "my name is " + "Ab " * 15_000,
        "Mr. " * 12_000,
        "Apt " * 12_000,
    ],
)
def test_no_catastrophic_backtracking(attack: str) -> None:
    t0 = time.perf_counter()
    pii.detect(attack)
    assert time.perf_counter() - t0 < 2.0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_invariants(text: str) -> None:
    red, spans = pii.redact(text)
    for s in spans:
        assert 0 <= s.start < s.end <= len(text)
        assert text[s.start : s.end] == s.text
        assert s.type in pii.PII_TYPES
        assert 0 < s.score <= 1
    for a, b in itertools.pairwise(spans):
        assert a.end <= b.start
    if not spans:
        assert red == text


def test_module_is_stdlib_only() -> None:
    """The lean agent imports lightkeeper.text.pii: it must not pull in numpy / torch / sklearn."""
    code = (
        "import sys, lightkeeper.text.pii; "
        "bad = {'numpy', 'torch', 'sklearn', 'pydantic'} & set(sys.modules); print(sorted(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_quality_on_presidio_dev() -> None:
    """Floors measured on the dev set (see docs/detectors_hallucination_pii.md); guards regressions."""
    from training.eval_pii import evaluate

    res = evaluate(json.loads(PRESIDIO.read_text(encoding="utf-8")))
    for t in ("EMAIL", "CREDIT_CARD", "IBAN", "IP_ADDRESS"):
        assert res[t]["precision"] >= 0.95 and res[t]["recall"] >= 0.95, (t, res[t])
    assert res["PHONE"]["recall"] >= 0.75 and res["PHONE"]["precision"] >= 0.9
    assert res["NATIONAL_ID"]["recall"] >= 0.9
    assert res["ADDRESS"]["recall"] >= 0.6 and res["ADDRESS"]["precision"] >= 0.9
    assert res["PERSON"]["recall"] >= 0.5 and res["PERSON"]["precision"] >= 0.7


def test_scorer_scores_and_hides_values() -> None:
    scorer = PIIScorer()
    res = scorer.score_batch(
        [
            ScoreInput(text="my card is 4111 1111 1111 1111"),
            ScoreInput(text="hello world"),
            ScoreInput(text="Dear Anna Kowalski,"),
        ]
    )
    assert res[0].score == 1.0 and res[0].flagged
    assert res[0].details["types"] == ["CREDIT_CARD"]
    assert "4111" not in json.dumps(res[0].details)
    assert res[1].score == 0.0 and not res[1].flagged
    assert res[2].score is not None and 0 < res[2].score < 1
    assert "Kowalski" not in json.dumps(res[2].details)
    assert scorer.name == "pii" and scorer.version


def test_scorer_bad_item_does_not_break_batch() -> None:
    res = PIIScorer().score_batch([ScoreInput(text=123), ScoreInput(text="a@b.io")])  # type: ignore[arg-type]
    assert res[0].score is None and "error" in res[0].details
    assert res[1].score == 1.0
