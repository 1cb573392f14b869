"""A lexical gate for queries sent to the runtime's read-only SQL endpoint.

Defense in depth: the endpoint also runs every query on a ClickHouse session with
``readonly=2``, but anything other than ONE read statement is refused here, before the engine
sees it. The check works on the query with comments removed and literals blanked, so keywords
inside strings (``WHERE note = 'DROP TABLE x'``) neither trigger nor hide anything.
"""

from __future__ import annotations

import re

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
    # positions in ``code`` match ``sql``: cut the trailing ';' and comments off the original
    return sql[: len(code)]
