"""Checks on queries sent to the runtime's read-only SQL endpoint, before they run.

The engine is the first line: every query runs on a ``readonly=1`` session (see
:func:`lightkeeper.store.client.connect_readonly`), which refuses writes, ``SETTINGS``
clauses and table functions reaching outside the store however they are spelled. Two checks
here come on top, for what the embedded engine does not refuse by itself (the scalar
``file()`` function, ``DESCRIBE`` of a table function, dictionaries):

* :func:`check_read_only`, lexical, before the engine sees anything: ONE read statement, no
  ``INTO OUTFILE``, no call of a function that reaches outside the store, bare or quoted. It
  works on the query with comments removed and literals blanked, so keywords inside strings
  (``WHERE note = 'DROP TABLE x'``) neither trigger nor hide anything.
* :func:`check_syntax_tree`, on the engine's own parse (``EXPLAIN AST``): the statement kind and
  every function name as the engine resolved them (after unquoting, escapes, comments), so
  spellings the lexical check cannot see are judged by what the engine would run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lightkeeper.errors import LightkeeperError

READ_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})
"""First keywords of the statements the endpoint runs."""

# Functions and table functions that read or write outside the store (files, network, programs).
_OUTSIDE = re.compile(
    r"\b(file|fileCluster|url|urlCluster|s3|s3Cluster|gcs|hdfs|hdfsCluster|azureBlobStorage"
    r"|azureBlobStorageCluster|remote|remoteSecure|cluster|clusterAllReplicas|mysql|postgresql"
    r"|mongodb|redis|sqlite|jdbc|odbc|executable|executablePool|input|deltaLake|iceberg|hudi"
    r"|loop|python)\s*\(",
    re.IGNORECASE,
)
# The same, as whole names resolved by the engine's parser (families by prefix).
_OUTSIDE_NAME = re.compile(
    r"(file|fileCluster|url|urlCluster|s3|s3Cluster|gcs|oss|cosn|hdfs|hdfsCluster|azureBlobStorage\w*"
    r"|remote|remoteSecure|cluster|clusterAllReplicas|mysql|postgresql|mongodb|redis|sqlite|jdbc|odbc"
    r"|executable\w*|input|deltaLake\w*|iceberg\w*|hudi\w*|paimon\w*|arrowFlight|ytsaurus|loop|python"
    r"|dictionary|dict[A-Z]\w*|catboostEvaluate|modelEvaluate|filesystem\w*)",
    re.IGNORECASE,
)
_QUOTED_CALL = re.compile(r"([`\"])( *)\1\s*\(")  # a quoted identifier (blanked) followed by '('
_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)
_FIRST_WORD = re.compile(r"[A-Za-z]+")
_HEREDOC = re.compile(r"\$([A-Za-z0-9_]*)\$")  # $$...$$ / $tag$...$tag$ string literals


class QueryRefused(LightkeeperError):
    """The query is not a single read statement (or reaches outside the store)."""


def code_only(sql: str) -> str:
    """``sql`` with comments and the inside of string literals and quoted identifiers replaced by
    spaces (quotes and newlines kept, so positions match ``sql``). Raises :class:`QueryRefused`
    for an unterminated literal or comment."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            end = _literal_end(sql, i)
            out.append(ch + " " * (end - i - 1) + ch)
            i = end + 1
        elif ch == "$" and (heredoc := _HEREDOC.match(sql, i)) is not None:
            close = sql.find(heredoc.group(0), heredoc.end())
            if close < 0:
                raise QueryRefused("unterminated $$ string")
            end = close + len(heredoc.group(0))
            out.append(
                heredoc.group(0) + re.sub(r"[^\n]", " ", sql[heredoc.end() : close]) + heredoc.group(0)
            )
            i = end
        elif sql.startswith(("--", "# ", "#!"), i):
            newline = sql.find("\n", i)
            end = n if newline < 0 else newline
            out.append(" " * (end - i))
            i = end
        elif sql.startswith("/*", i):
            end = _block_comment_end(sql, i)
            out.append(re.sub(r"[^\n]", " ", sql[i:end]))
            i = end
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _literal_end(sql: str, start: int) -> int:
    quote = sql[start]
    i = start + 1
    while i < len(sql):
        ch = sql[i]
        if ch == "\\":
            i += 2
            continue
        if ch == quote:
            if sql.startswith(quote * 2, i):  # doubled quote inside the literal
                i += 2
                continue
            return i
        i += 1
    raise QueryRefused("unterminated quoted string or identifier")


def _block_comment_end(sql: str, start: int) -> int:
    depth, i = 0, start
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    raise QueryRefused("unterminated /* comment")


def check_read_only(sql: str) -> str:
    """Return ``sql`` without a trailing ``;`` if it is one read statement (``SELECT``,
    ``WITH``, ``SHOW``, ``DESCRIBE``/``DESC``, ``EXPLAIN``, ``EXISTS``) that does not write a
    file (``INTO OUTFILE``) or call functions reaching outside the store (``file()``, ``url()``,
    ``s3()``, ``remote()``, ``executable()``...). Raises :class:`QueryRefused` otherwise."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("empty query")
    code = code_only(sql).rstrip()
    while code.endswith(";"):
        code = code[:-1].rstrip()
    if ";" in code:
        raise QueryRefused("one statement at a time: the query contains ';' between statements")
    match = _FIRST_WORD.search(code.lstrip(" \t\r\n("))
    first = match.group(0).upper() if match else ""
    if first not in READ_KEYWORDS:
        allowed = ", ".join(sorted(READ_KEYWORDS))
        raise QueryRefused(f"read-only endpoint: {first or 'this statement'} is not allowed (use {allowed})")
    if _OUTFILE.search(code):
        raise QueryRefused("read-only endpoint: INTO OUTFILE is not allowed")
    outside = _OUTSIDE.search(code)
    if outside:
        raise QueryRefused(f"read-only endpoint: {outside.group(1)}() reaches outside the store")
    for quoted in _QUOTED_CALL.finditer(code):  # `file`(...), "url"(...): the name from the original
        name = sql[quoted.start(2) : quoted.end(2)]
        if _OUTSIDE_NAME.fullmatch(name.strip()):
            raise QueryRefused(f"read-only endpoint: {name.strip()}() reaches outside the store")
    # positions in ``code`` match ``sql``: cut the trailing ';' and comments off the original
    return sql[: len(code)]


# the engine's parse --------------------------------------------------------------------------
_STATEMENTS = re.compile(
    r"(SelectWithUnionQuery|SelectIntersectExceptQuery|DescribeQuery|ExistsTableQuery"
    r"|ExistsDatabaseQuery|ExistsViewQuery|ExistsDictionaryQuery|Explain|Show\w*)\b"
)
_AST_FUNCTION = re.compile(r"\s*Function (\S+)")
_AST_SETTINGS = re.compile(r"\s*Set\b")


def check_syntax_tree(ast_lines: list[str]) -> None:
    """Judge a query by the engine's parse of it: ``ast_lines`` are the rows ``EXPLAIN AST
    <query>`` returned. Raises :class:`QueryRefused` unless the statement is a read (SELECT,
    DESCRIBE, EXISTS, EXPLAIN, SHOW), it carries no ``SETTINGS`` clause and no function in it
    reaches outside the store (table or scalar: ``file``, ``url``, ``s3``, ``remote``,
    ``executable``, ``input``, dictionaries...). Literals are printed quoted and escaped in
    that output, so their content never looks like a node."""
    if not ast_lines or not _STATEMENTS.match(ast_lines[0]):
        head = ast_lines[0].split(" (", 1)[0] if ast_lines else "nothing"
        raise QueryRefused(f"read-only endpoint: the engine parsed {head!r}, not a read statement")
    for line in ast_lines:
        function = _AST_FUNCTION.match(line)
        if function and _OUTSIDE_NAME.fullmatch(function.group(1)):
            raise QueryRefused(f"read-only endpoint: {function.group(1)}() reaches outside the store")
        if _AST_SETTINGS.match(line):
            raise QueryRefused("read-only endpoint: a SETTINGS clause is not allowed (limits are fixed)")


# tenant-scoped tokens ------------------------------------------------------------------------
TENANT_TABLES = ("events", "events_dedup", "scores", "scores_dedup")
"""What a tenant-scoped token may read: the tables the engine filters to its tenant (and views over them)."""
_SAFE_TABLE_FUNCTIONS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "values", "null", "view"})
_IN_FUNCTIONS = frozenset({"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn"})
_SELECTS = ("SelectWithUnionQuery", "SelectIntersectExceptQuery")
_ALIAS = re.compile(r" \(alias [^)]*\)$")


@dataclass
class _Node:
    text: str
    children: list[_Node] = field(default_factory=list)


def _tree(ast_lines: list[str]) -> _Node:
    root = _Node("")
    stack: list[tuple[int, _Node]] = [(-1, root)]
    for line in ast_lines:
        depth = len(line) - len(line.lstrip(" "))
        node = _Node(line.strip())
        while stack[-1][0] >= depth:
            stack.pop()
        stack[-1][1].children.append(node)
        stack.append((depth, node))
    return root


def check_tenant_tree(ast_lines: list[str], database: str, tables: set[str]) -> None:
    """The extra rules for a tenant-scoped token, on the engine's parse (after
    :func:`check_syntax_tree`): a SELECT; tables only among :data:`TENANT_TABLES` of
    ``database`` (the engine filters those rows to the tenant); table functions only in-store
    generators and ``view``; no ``IN <table>`` shorthand (it would read an unfiltered table).

    ``tables`` are the names of ``database``'s tables and views: an unqualified name that is
    none of them is a ``WITH`` name (the parse does not print those) or fails in the engine."""
    if not ast_lines or not ast_lines[0].startswith(_SELECTS):
        raise QueryRefused("tenant-scoped token: only SELECT queries are allowed")
    allowed = {f"{database}.{t}" for t in TENANT_TABLES}
    pending = [_tree(ast_lines)]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        if node.text.startswith("TableExpression") and node.children:
            source = node.children[0].text
            if source.startswith("TableIdentifier "):
                name = _ALIAS.sub("", source[len("TableIdentifier ") :])
                if "." not in name and name not in tables:
                    continue  # a WITH name
                qualified = name if "." in name else f"{database}.{name}"
                if qualified not in allowed:
                    raise QueryRefused(
                        f"tenant-scoped token: table {name} is not readable (use {', '.join(TENANT_TABLES)})"
                    )
            elif source.startswith("Function "):
                name = source.split()[1]
                if name not in _SAFE_TABLE_FUNCTIONS:
                    raise QueryRefused(f"tenant-scoped token: table function {name}() is not allowed")
        elif node.text.startswith("Function ") and node.text.split()[1] in _IN_FUNCTIONS:
            args = node.children[0].children if node.children else []
            if len(args) == 2 and args[1].text.startswith("Identifier "):
                raise QueryRefused("tenant-scoped token: write IN (SELECT ...) instead of IN <table>")
