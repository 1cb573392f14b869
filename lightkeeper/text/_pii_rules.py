"""The PII rules: precompiled regular expressions, each with a type, a confidence and an optional
validator (stdlib only).

Every pattern is written without nested unbounded quantifiers, so matching is linear in the text
length (tests run them over long adversarial strings). A rule yields the span of its ``value``
group when it has one (the cue words around it, like ``password=`` or ``my name is``, stay in the
text), otherwise of the whole match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from lightkeeper.text import _pii_validators as v


@dataclass(frozen=True, slots=True)
class Rule:
    """One detector: ``pattern`` finds candidates of ``type``; ``validator`` (on the value text)
    must accept them; ``score`` is the confidence given to an accepted match. ``needs`` is a cheap
    pre-filter: "digit" (text must contain a digit), "@", ":" or "" (always run)."""

    name: str
    type: str
    pattern: re.Pattern[str]
    score: float
    validator: Callable[[str], bool] | None = None
    needs: str = ""
    keywords: tuple[str, ...] = ()
    """Lower-case substrings, one of which the lower-cased text must contain for the rule to run."""
    left_cue: re.Pattern[str] | None = None
    """When set, a match only counts if this pattern (anchored with ``$``) is found in the
    ``LEFT_WINDOW`` characters before the match: candidate-first matching of cue words, much
    faster than a regex that tries a long cue alternation at every position."""
    extend_left: bool = False
    """With ``left_cue``: the span starts where the cue match starts (the cue is part of the value,
    like the street name before a house number)."""


LEFT_WINDOW = 48


def _char_class(pred: Callable[[str], bool]) -> str:
    """A regex character class body of the Latin/Greek/Cyrillic letters satisfying ``pred``."""
    chars = [chr(c) for c in range(0x41, 0x530) if pred(chr(c)) and chr(c).isalpha()]
    return "".join(re.escape(c) for c in chars)


_UP = _char_class(str.isupper)
_LOW = _char_class(str.islower)
# A capitalized name word ("Anna", "O'Neil", "Jean-Luc", "Szöllösy") or an initial ("J", "J.").
_NAME_REST = rf"[{_LOW}]{{1,30}}(?:['’-][{_UP}]?[{_LOW}]{{1,30}})?"
_NAME_WORD = rf"[{_UP}]{_NAME_REST}"
_INITIAL = rf"[{_UP}]\.?"
# 1..4 name words on one line, optionally with middle initials: "Faina D. Yefremova".
_FULL_NAME = (
    rf"[{_UP}](?<![\w'’-].){_NAME_REST}"
    rf"(?:[ \t]{{1,3}}(?:{_INITIAL}[ \t]{{1,3}})?{_NAME_WORD}){{0,3}}"
)

_HONORIFIC = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Rev|Herr|Frau|Mme|Mlle|Sra?|Madam)"
_PERSON_CUE = (
    r"(?i:my name is|his name is|her name is|their name is|name is|name'?s|i am|i'm|this is|"
    r"call me|calls me|named|called|name:|full name:|patient:|customer:|client:|user:|author:|"
    r"last name is|first name is|name on the account is|under my partner's name|change it to|"
    r"says|said|asked|told|by|starring|directed by|producer|founder|ceo|commenter|add|"
    r"shouted at|replied|wrote|"
    r"contact person:|signed,?|regards,?|sincerely,?|dear|hi|hello|hey|thanks,?|"
    r"ask for|speak to|talk to|talked to|spoke to|spoke with|married|son of|daughter of|"
    r"wife|husband|brother|sister|mother|father|friend|colleague|manager|assistant)"
)

# Capitalized words that start a sentence or name a thing, not a person.
_NOT_NAME = (
    r"(?:The|A|An|This|That|These|Those|It|Its|He|She|We|They|You|Your|My|Our|Their|His|Her|I|If|"
    r"In|On|At|Of|For|From|To|By|With|And|But|Or|As|Is|Are|Was|Were|Be|Do|Does|Did|Can|Could|Will|"
    r"Would|Should|May|Might|Please|Thanks|Thank|Hi|Hello|Dear|Yes|No|Not|What|When|Where|Who|Why|"
    r"How|Which|Here|There|Then|So|Also|Just|Unlike|After|Before|During|Since|Until|Mr|Mrs|Ms|Dr|"
    r"Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|June|"
    r"July|August|September|October|November|December|Street|Avenue|Road|Suite|Apt|United|States|"
    r"Kingdom|New|North|South|East|West|Central|National|International|University|College|School|"
    r"Company|Corporation|Inc|Ltd|Bank|Group|Office|Department|Ministry|Council|Court|Public|Data|"
    r"Google|Microsoft|Apple|Amazon|Facebook|Meta|OpenAI|Open|Source|Chapter|Section|Title|Act|"
    r"Account|Card|Credit|Phone|Email|Address|Name|Customer|Service|Support|Team|Director|Manager|"
    r"Mobile|Desk|Fax|Billing|Personal|Info|Information|Directed|Starring|Genre|Rating|Runtime|Mystery|"
    r"Suspense|Drama|Comedy|Action|Kids|Family|Orchestra|Band|Album|Song|Film|Movie|Book|Music|"
    r"Southern|Northern|Eastern|Western|Upper|Lower|Great|Little|Big|Old|Saint|St|Port|Mount|Lake|"
    r"Czech|American|Japanese|Chinese|German|French|British|English|European|African|Asian|Social)"
)
# Words ending a two-word capitalized phrase that make it a place, an organization or a title.
_NOT_NAME_TAIL = (
    r"(?:Weekly|Daily|Times|News|Club|Insurance|Technologies|Technology|Global|Associates|Partners|"
    r"Republic|Springs|Village|City|Town|Beach|Border|Parks?|Pass|Squares?|Fort|Gateway|Rights|Tales|"
    r"Pleasures|Love|Systems|Solutions|Labs?|Health|Bioscience|Cycle|Markets|Island|Islands|Valley|"
    r"Lake|River|Mountains?|Bay|Port|Harbou?r|County|State|Province|Region|Hills?|Heights|Creek|"
    r"Center|Centre|Hospital|Museum|Library|Foundation|Institute|Society|Association|Union|Party|"
    r"Airlines?|Motors|Energy|Capital|Holdings|Industries|Media|Records|Studios?|Pictures|Press|"
    r"Network|Software|Services|Consulting|Ventures|Trust|Fund|Church|Cathedral|Park|Garden|Gardens|"
    r"Lane|Drive|Court|Mall|Extensions?|Crossing|Meadows?|Estates?|Ridge|Grove|Point|Station|Airport)"
)
_STREET_TYPES = (
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Ter|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Trail|Trl|Alley|Row|Close|"
    r"Crescent|Cres|Gardens|Walk|Strasse|Straße|Str|Allee|Gasse|Weg|Platz|Straat|Laan|Gatan|Vej|Katu|"
    r"Tie|Utca|Ulica)"
)
_UNIT = (
    r"(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|Fl|Room|Rm|Bldg|Building|#)\.?[ \t]{0,3}"
    r"[A-Za-z]?\d{1,5}[A-Za-z]?"
)
_ADDRESS_CUE = (
    r"(?i:address is|address:|address of [^\n]{1,40}? is|lives at|live at|living at|located at|"
    r"office is at|offices are at|based at|ship(?:ped)? to|deliver(?:ed)? to|send it to|"
    r"mail it to|moved to|residing at|resides at|home is at)"
)

_DATE = (
    r"(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|"
    r"(?i:\d{1,2}(?:st|nd|rd|th)?[ \t]+(?:of[ \t]+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)"
    r"[a-z]{0,6}\.?,?[ \t]+\d{4})|"
    r"(?i:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]{0,6}\.?[ \t]+\d{1,2}"
    r"(?:st|nd|rd|th)?,?[ \t]+\d{4}))"
)

_CREDENTIAL_LABELS = (
    r"(?i:api[_-]?key|apikey|api[_-]?secret|access[_-]?key(?:[_-]?id)?|secret[_-]?key|secret|"
    r"client[_-]?secret|auth[_-]?token|access[_-]?token|refresh[_-]?token|token|bearer|"
    r"password|passwd|pwd|passphrase|private[_-]?key)"
)


_NOT_NAME_WORDS = frozenset(_NOT_NAME[3:-1].replace('"', "").split("|"))


def _first_word_may_be_name(value: str) -> bool:
    """False when the first word of a capitalized pair is a function word, month, place word..."""
    return value.split(None, 1)[0] not in _NOT_NAME_WORDS


def _c(pattern: str, flags: int = 0) -> re.Pattern[str]:
    return re.compile(pattern, flags)


# Patterns start with a literal or a character class (look-behinds come after the first
# character): the regex engine then skips quickly to plausible starts instead of trying every
# position. Cue words that precede a value are checked by ``left_cue`` on a short window.
RULES: tuple[Rule, ...] = (
    # --- EMAIL ---------------------------------------------------------------------------------
    Rule(
        "email",
        "EMAIL",
        _c(
            r"[A-Za-z0-9](?<![\w.%+-][A-Za-z0-9])[A-Za-z0-9._%+-]{0,63}@"
            r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
        ),
        0.95,
        needs="@",
    ),
    # --- API_KEY (known prefixes first: they win overlaps) --------------------------------------
    Rule(
        "openai_key", "API_KEY", _c(r"s(?<![\w-]s)k-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{20,200}"), 0.97
    ),
    Rule(
        "aws_access_key",
        "API_KEY",
        _c(r"A(?<![A-Z0-9]A)(?:KIA|SIA|GPA|IDA|ROA)[0-9A-Z]{16}(?![A-Z0-9])"),
        0.97,
        needs="digit",
    ),
    Rule(
        "github_token",
        "API_KEY",
        _c(r"g(?<![\w]g)(?:h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{50,255})"),
        0.97,
    ),
    Rule("slack_token", "API_KEY", _c(r"x(?<![\w-]x)ox[abposr]-[A-Za-z0-9-]{10,250}"), 0.95),
    Rule("google_api_key", "API_KEY", _c(r"A(?<![\w-]A)Iza[0-9A-Za-z_\-]{35}(?![\w-])"), 0.95),
    Rule("stripe_key", "API_KEY", _c(r"[srp](?<![\w-][srp])k_(?:live|test)_[0-9A-Za-z]{16,99}"), 0.95),
    Rule(
        "jwt",
        "API_KEY",
        _c(r"e(?<![\w-]e)yJ[A-Za-z0-9_-]{8,4000}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,4000}"),
        0.95,
    ),
    Rule(
        "private_key_block",
        "API_KEY",
        _c(
            r"-----BEGIN (?:[A-Z]{2,10} )?PRIVATE KEY-----[A-Za-z0-9+/=\s]{16,8000}?"
            r"-----END (?:[A-Z]{2,10} )?PRIVATE KEY-----"
        ),
        0.99,
    ),
    Rule(
        "secret_assignment",
        "API_KEY",
        _c(
            rf"{_CREDENTIAL_LABELS}[\"']?[ \t]{{0,3}}(?:[:=]|=>|:=|\bis\b)[ \t]{{0,3}}(?:Bearer[ \t]+)?"
            r"(?P<value>[\"'`]?[^\s\"'`,;]{8,200}[\"'`]?)"
        ),
        0.9,
        validator=v.looks_secret,
        keywords=("key", "secret", "token", "bearer", "pass", "pwd"),
    ),
    Rule(
        "bearer_header",
        "API_KEY",
        _c(r"(?i:authorization:[ \t]{0,3}bearer)[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{16,4000})"),
        0.9,
        validator=v.looks_secret,
        keywords=("authorization",),
    ),
    # --- IBAN ---------------------------------------------------------------------------------
    Rule(
        "iban",
        "IBAN",
        _c(r"[A-Za-z](?<![A-Za-z0-9][A-Za-z])[A-Za-z]\d{2}(?:[ ]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])"),
        0.97,
        validator=v.iban_ok,
        needs="digit",
    ),
    # --- CREDIT_CARD (Luhn) ---------------------------------------------------------------------
    Rule(
        "credit_card",
        "CREDIT_CARD",
        _c(r"\d(?<![\d-]\d)(?:\d{3}[ -]?(?:\d{4}[ -]?){1,3}\d{1,4}|\d{11,18})(?![\d-])"),
        0.95,
        validator=v.luhn_ok,
        needs="digit",
    ),
    # --- NATIONAL_ID ------------------------------------------------------------------------------
    Rule(
        "us_ssn",
        "NATIONAL_ID",
        _c(r"\d(?<![\d-]\d)\d{2}-\d{2}-\d{4}(?![\d-])"),
        0.85,
        validator=v.us_ssn_ok,
        needs="digit",
    ),
    Rule(
        "national_id_cue",
        "NATIONAL_ID",
        _c(
            r"[A-Za-z0-9](?<![A-Za-z0-9-][A-Za-z0-9])(?=[A-Za-z0-9 -]{0,20}\d{4})"
            r"(?:[A-Za-z0-9]|-(?=[A-Za-z0-9])|[ ](?=\d)){4,20}(?![A-Za-z0-9])"
        ),
        0.8,
        validator=v.national_id_ok,
        needs="digit",
        left_cue=_c(
            r"(?<![\w'])(?i:ssn|social security(?: number)?|"
            r"national (?:id|identity|insurance)(?: number| card)?|"
            r"id number|identity (?:card|number)|passport(?: number| no\.?)?|"
            r"tax (?:id|number|identification number)|tin|nin|nino|driver'?s? licen[cs]e(?: number| no\.?)?|"
            r"licen[cs]e (?:number|no\.?)|personnummer|aadhaar|pan card|sin|steuer-?id|dni|nie|"
            r"codice fiscale|bsn|pesel|cpf)[ \t]{0,3}(?:(?:number|no\.?|#|is|was|:)[ \t]{0,3}){0,3}$"
        ),
    ),
    Rule(
        "uk_nino",
        "NATIONAL_ID",
        _c(
            r"[A-CEGHJ-PR-TW-Z](?<![A-Za-z0-9].)[A-CEGHJ-PR-TW-Z][ ]?\d{2}[ ]?\d{2}[ ]?\d{2}[ ]?[A-D]"
            r"(?![A-Za-z0-9])"
        ),
        0.7,
        needs="digit",
    ),
    # --- IP_ADDRESS ---------------------------------------------------------------------------------
    Rule(
        "ipv4",
        "IP_ADDRESS",
        _c(r"\d(?<![\d.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d]|\.\d)"),
        0.9,
        validator=v.ipv4_ok,
        needs="digit",
    ),
    Rule(
        "ipv6",
        "IP_ADDRESS",
        _c(r"[0-9A-Fa-f:](?<![\w:][0-9A-Fa-f:])[0-9A-Fa-f:]{2,38}(?![\w:])"),
        0.9,
        validator=v.ipv6_ok,
        needs=":",
    ),
    # --- DATE_OF_BIRTH ------------------------------------------------------------------------------
    Rule(
        "date_of_birth",
        "DATE_OF_BIRTH",
        _c(
            r"(?i:born on|born|date of birth|birth ?date|d\.?o\.?b\.?|birthday)"
            r"[ \t]{0,3}(?:is|was|:)?[ \t]{0,3}"
            rf"(?P<value>{_DATE})"
        ),
        0.8,
        needs="digit",
        keywords=("born", "birth", "dob", "d.o.b"),
    ),
    # --- PHONE ---------------------------------------------------------------------------------------
    Rule(
        "phone_intl",
        "PHONE",
        _c(r"\+(?<![\w+]\+)\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){1,5}(?:[ .-]?\d{2,4})(?![\w])"),
        0.85,
        validator=v.phone_digits_ok,
        needs="digit",
    ),
    Rule(
        "phone_nanp",
        "PHONE",
        _c(
            r"[\d(](?<![\w+-][\d(])"
            r"(?:(?<=\()\d{3}\)[ ]?|(?<=1)[ .-]?(?:\(\d{3}\)[ ]?|\d{3}[ .-])|(?<=\d)\d{2}[ .-])"
            r"\d{3}[ .-]\d{4}(?![\w-])"
        ),
        0.8,
        validator=v.phone_digits_ok,
        needs="digit",
    ),
    Rule(
        "phone_cue",
        "PHONE",
        _c(r"[+(\d](?<![\w+(][+(\d])\d{0,4}\)?(?:[ .-]{1,2}\(?\d{1,5}\)?){1,5}(?![\w])"),
        0.75,
        validator=v.phone_digits_ok,
        needs="digit",
        left_cue=_c(
            r"(?<![\w'])(?i:phone(?: number)?|tel\.?|telephone|mobile|cell(?: phone)?|fax|"
            r"call(?: me)?(?: at| on)?|"
            r"reach me at|text me at|contact number|number is|messages to|answering at|whatsapp|ph\.?|mob\.?)"
            r"[ \t]{0,3}(?:is|:)?[ \t\n]{0,3}$"
        ),
    ),
    Rule(
        "phone_generic",
        "PHONE",
        _c(r"[\d(](?<![\w+./:-][\d(])\d{1,4}\)?(?:[ .-]\d{2,4}){2,4}(?![\w/:-]|[ .]\d)"),
        0.45,
        validator=v.phone_generic_ok,
        needs="digit",
    ),
    # --- ADDRESS ---------------------------------------------------------------------------------------
    Rule(
        "street_address",
        "ADDRESS",
        _c(
            rf"\d(?<![\w-]\d)\d{{0,5}}[A-Za-z]?[ \t]{{1,3}}(?:{_NAME_WORD}[ \t]{{1,3}}){{0,4}}"
            rf"{_STREET_TYPES}\b\.?"
            rf"(?:,?[ \t]{{0,3}}{_UNIT})?"
        ),
        0.8,
        needs="digit",
    ),
    Rule(
        "street_address_prefix",
        "ADDRESS",
        _c(
            r"(?<![\w-])(?:Rua|Calle|Carrer|Via|Viale|Rue|Avenida|Avenue|Av\.|Ulica|ul\.|Strada|Praça|Plaza|Piazza)"
            rf"(?:[ \t]{{1,3}}(?:{_NAME_WORD}|d[aeiou]s?|de la|del|della|di|du|des|van|von|der)){{1,4}},?"
            r"[ \t]{1,3}\d{1,5}[A-Za-z]?(?![\w-])"
        ),
        0.75,
        needs="digit",
        keywords=(
            "rua ",
            "calle",
            "carrer",
            "via ",
            "viale",
            "rue ",
            "avenida",
            "avenue",
            "av.",
            "ulica",
            "ul.",
            "strada",
            "praça",
            "plaza",
            "piazza",
        ),
    ),
    Rule(
        "street_address_suffix",
        "ADDRESS",
        _c(r"\d(?<![\w-]\d)\d{0,4}[A-Za-z]?(?![\w-])"),
        0.7,
        needs="digit",
        extend_left=True,
        left_cue=_c(
            rf"(?<![\w-])[{_UP}][{_LOW}]{{1,30}}(?i:strasse|straße|str\.|weg|gasse|platz|katu|tie|vej|gatan|"
            r"vägen|laan|straat|utca|ulica|ulice|gade|veien|road|street)[ \t]{1,3}$"
        ),
    ),
    Rule(
        "po_box",
        "ADDRESS",
        _c(r"[PpBb](?<![\w]\w)(?i:(?:P\.?[ ]?O\.?[ ]?Box|PSC[ ]\d{1,5},?[ ]Box|Postfach|Box)[ ]\d{1,6})"),
        0.75,
        needs="digit",
    ),
    Rule(
        "unit",
        "ADDRESS",
        _c(
            r"[ASUFRB](?<![\w#-][ASUFRB])(?:pt|partment|uite|te|nit|lat|loor|oom|ldg|uilding)\.?[ \t]{0,3}"
            r"[A-Za-z]?\d{1,5}[A-Za-z]?(?![\w-])"
        ),
        0.55,
        needs="digit",
    ),
    Rule(
        "numbered_street",
        "ADDRESS",
        _c(
            rf"\d(?<![\w.,-]\d)\d{{2,5}}[ \t]{{1,3}}(?:{_NAME_WORD}[ \t]{{1,3}}){{1,3}}"
            r"\d{1,5}[A-Za-z]?(?![\w-])"
        ),
        0.55,
        needs="digit",
    ),
    Rule(
        "address_cue",
        "ADDRESS",
        _c(rf"{_ADDRESS_CUE}[ \t]{{0,3}}:?[ \t\n]{{0,3}}(?P<value>(?=[^\n]{{0,60}}\d)[^\n?!;]{{4,100}})"),
        0.7,
        needs="digit",
        keywords=(
            "address",
            "live",
            "located",
            "office",
            "based at",
            "ship",
            "deliver",
            "send it",
            "mail it",
            "moved",
            "resid",
            "home is",
        ),
    ),
    # --- PERSON ---------------------------------------------------------------------------------------
    Rule(
        "person_honorific",
        "PERSON",
        _c(rf"(?P<value>{_FULL_NAME})"),
        0.85,
        left_cue=_c(rf"(?<![\w']){_HONORIFIC}\.?[ \t]{{1,3}}$"),
    ),
    Rule(
        "person_cue",
        "PERSON",
        _c(rf"(?P<value>(?!{_HONORIFIC}\b){_FULL_NAME})"),
        0.6,
        left_cue=_c(rf"(?<![\w']){_PERSON_CUE}[ \t]{{1,3}}$"),
    ),
    Rule(
        "person_name_pair",
        "PERSON",
        _c(
            rf"(?P<value>[{_UP}](?<![\w.'’\"“-].){_NAME_REST}(?:[ \t]{{1,2}}{_INITIAL})?[ \t]{{1,2}}"
            rf"(?!{_NOT_NAME}\b)(?!{_NOT_NAME_TAIL}\b){_NAME_WORD})(?![\w'’-])"
        ),
        0.4,
        validator=_first_word_may_be_name,
    ),
    Rule(
        "person_field",
        "PERSON",
        _c(rf"(?P<value>{_FULL_NAME})"),
        0.7,
        left_cue=_c(
            r"(?im:^[ \t]{0,8}(?:name|full name|patient|customer|client|contact|signed|from|to|by|author)"
            r"[ \t]{0,3}:[ \t\n]{0,3})$"
        ),
    ),
)
