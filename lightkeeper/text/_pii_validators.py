"""Checksums and plausibility checks used by the PII rules (stdlib only).

Each function takes the matched text and says whether it is a plausible value of its type. They
are what turns a digit run into a credit card (Luhn), a code into an IBAN (ISO 7064 mod 97) or a
dotted quad into an IP address.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter

# Length of the IBAN per country (ISO 13616 registry; the common ones). A country not listed
# is accepted with any length 15..34 as long as the checksum holds.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24,
    "AE": 23,
    "AL": 28,
    "AT": 20,
    "AZ": 28,
    "BA": 20,
    "BE": 16,
    "BG": 22,
    "BH": 22,
    "BR": 29,
    "CH": 21,
    "CR": 22,
    "CY": 28,
    "CZ": 24,
    "DE": 22,
    "DK": 18,
    "DO": 28,
    "EE": 20,
    "EG": 29,
    "ES": 24,
    "FI": 18,
    "FO": 18,
    "FR": 27,
    "GB": 22,
    "GE": 22,
    "GI": 23,
    "GL": 18,
    "GR": 27,
    "GT": 28,
    "HR": 21,
    "HU": 28,
    "IE": 22,
    "IL": 23,
    "IS": 26,
    "IT": 27,
    "JO": 30,
    "KW": 30,
    "KZ": 20,
    "LB": 28,
    "LI": 21,
    "LT": 20,
    "LU": 20,
    "LV": 21,
    "MC": 27,
    "MD": 24,
    "ME": 22,
    "MK": 19,
    "MR": 27,
    "MT": 31,
    "MU": 30,
    "NL": 18,
    "NO": 15,
    "PK": 24,
    "PL": 28,
    "PS": 29,
    "PT": 25,
    "QA": 29,
    "RO": 24,
    "RS": 22,
    "SA": 24,
    "SE": 24,
    "SI": 19,
    "SK": 24,
    "SM": 27,
    "TN": 24,
    "TR": 26,
    "UA": 29,
    "VG": 24,
    "XK": 20,
}


def digits_of(text: str) -> str:
    """The ASCII digits of ``text``, in order."""
    return "".join(c for c in text if "0" <= c <= "9")


def luhn_ok(text: str) -> bool:
    """Luhn (mod 10) checksum over the digits of ``text``; 12..19 digits, not all equal."""
    ds = digits_of(text)
    if not 12 <= len(ds) <= 19 or len(set(ds)) == 1:
        return False
    total = 0
    for i, ch in enumerate(reversed(ds)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    """ISO 13616 IBAN: known country length (when known) and mod-97 == 1."""
    s = "".join(text.split()).upper()
    if not 15 <= len(s) <= 34 or not s[:2].isalpha() or not s[2:4].isdigit() or not s.isalnum():
        return False
    expected = _IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return False
    rearranged = s[4:] + s[:4]
    try:
        number = int("".join(str(int(c, 36)) for c in rearranged))
    except ValueError:
        return False
    return number % 97 == 1


def us_ssn_ok(text: str) -> bool:
    """US SSN structure: area not 000/666/9xx, group not 00, serial not 0000, not all-same digit."""
    ds = digits_of(text)
    if len(ds) != 9 or len(set(ds)) == 1:
        return False
    area, group, serial = ds[:3], ds[3:5], ds[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def ipv4_ok(text: str) -> bool:
    """Dotted quad with each octet 0..255, no leading zeros; not a version-like 0.x.x.x."""
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or len(p) > 3 or (len(p) > 1 and p[0] == "0") or int(p) > 255:
            return False
    return parts[0] != "0"


def ipv6_ok(text: str) -> bool:
    """A valid IPv6 address (``ipaddress``), at least 3 groups so that times like 12:30 don't match."""
    if text.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text``."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


_PLACEHOLDERS = frozenset({"password", "changeme", "xxxxxxxx", "********", "redacted", "none", "null"})


def looks_secret(value: str) -> bool:
    """Whether an assigned value (``api_key=...``) looks like a real secret rather than a word or a
    placeholder: long enough, mixed character classes, high entropy."""
    v = value.strip("\"'`")
    if len(v) < 8 or v.lower() in _PLACEHOLDERS:
        return False
    if set(v) <= set("*x.X-_<>"):
        return False
    classes = sum(
        (
            any(c.islower() for c in v),
            any(c.isupper() for c in v),
            any(c.isdigit() for c in v),
            any(not c.isalnum() for c in v),
        )
    )
    if classes < 2:
        return False
    return shannon_entropy(v) >= 3.0


def phone_digits_ok(text: str) -> bool:
    """7..15 digits (E.164 maximum), not all the same digit."""
    ds = digits_of(text)
    return 7 <= len(ds) <= 15 and len(set(ds)) > 1


_DATE_LIKE = re.compile(r"\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4}")


def phone_generic_ok(text: str) -> bool:
    """Phone digits that do not read as a date (``2000-04-16``, ``16.04.2000``)."""
    return phone_digits_ok(text) and _DATE_LIKE.fullmatch(text) is None


_SSN_SHAPE = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")


def national_id_ok(text: str) -> bool:
    """An id number after a cue word: SSN-shaped values must be valid SSNs; others need at least
    4 digits that are not all the same."""
    if _SSN_SHAPE.fullmatch(text):
        return us_ssn_ok(text)
    ds = digits_of(text)
    return len(ds) >= 4 and len(set(ds)) > 1
