"""The lexical gate of the read-only SQL endpoint (defense in depth before readonly=2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lightkeeper.runtime._sql_guard import QueryRefused, check_read_only, check_syntax_tree, code_only


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("  select count() from events_dedup;  ", "  select count() from events_dedup"),
        ("WITH x AS (SELECT 1) SELECT * FROM x;;", "WITH x AS (SELECT 1) SELECT * FROM x"),
        (
            "-- who spends\nSELECT user_id FROM events_dedup -- trailing\n",
            "-- who spends\nSELECT user_id FROM events_dedup",
        ),
        ("/* a /* nested */ comment */ SHOW TABLES", "/* a /* nested */ comment */ SHOW TABLES"),
        ("(SELECT 1) UNION ALL (SELECT 2)", "(SELECT 1) UNION ALL (SELECT 2)"),
        ("DESCRIBE TABLE events", "DESCRIBE TABLE events"),
        ("DESC events", "DESC events"),
        ("EXPLAIN SELECT 1", "EXPLAIN SELECT 1"),
        ("EXISTS TABLE events", "EXISTS TABLE events"),
        ("SELECT 'DROP TABLE x; --' AS s", "SELECT 'DROP TABLE x; --' AS s"),
        ("SELECT 'it''s; fine', 'a\\'; b'", "SELECT 'it''s; fine', 'a\\'; b'"),
        ('SELECT "odd;name" FROM `t;x`', 'SELECT "odd;name" FROM `t;x`'),
        ("SELECT profile FROM t WHERE note = 'file(1)'", "SELECT profile FROM t WHERE note = 'file(1)'"),
        ("SELECT $$it's; DROP$$ AS s # comment", "SELECT $$it's; DROP$$ AS s"),
        ("SELECT 1 #! shell-style comment; DROP", "SELECT 1"),
        ('SELECT `file_name`, "url" FROM t', 'SELECT `file_name`, "url" FROM t'),
        ("SELECT `lower`('A')", "SELECT `lower`('A')"),
    ],
)
def test_read_statements_pass(query: str, expected: str) -> None:
    assert check_read_only(query) == expected


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("INSERT INTO events (event_id) VALUES ('x')", "INSERT is not allowed"),
        ("DROP TABLE events", "DROP is not allowed"),
        ("ALTER TABLE events DELETE WHERE 1", "ALTER is not allowed"),
        ("TRUNCATE TABLE events", "TRUNCATE"),
        ("SET readonly = 0", "SET is not allowed"),
        ("SYSTEM SHUTDOWN", "SYSTEM"),
        ("OPTIMIZE TABLE events FINAL", "OPTIMIZE"),
        ("/* SELECT */ DELETE FROM events WHERE 1", "DELETE"),
        ("-- SELECT\nDROP DATABASE lightkeeper", "DROP"),
        ("SELECT 1; DROP TABLE events", "one statement at a time"),
        ("SELECT 1;\nINSERT INTO t VALUES (1)", "one statement at a time"),
        ("SELECT * FROM events INTO OUTFILE '/tmp/x.csv'", "INTO OUTFILE"),
        ("SELECT file('/etc/passwd')", "file()"),
        ("SELECT * FROM url('http://example.com/x', CSV)", "url()"),
        ("SELECT * FROM s3 ('https://bucket/x')", "s3()"),
        ("SELECT * FROM remote('10.0.0.1', system.one)", "remote()"),
        ("SELECT * FROM executable('x.sh', TSV, 'a String')", "executable()"),
        ("SELECT $$'$$, file('/etc/passwd'), 'x'", "file()"),
        ("SELECT $t$ ' $t$ AS a, url('http://h/x', CSV) AS b, ' '", "url()"),
        ("SELECT #abc file('/etc/passwd')", "file()"),
        ("SELECT `file`('/etc/passwd')", "file()"),
        ("SELECT * FROM \"url\" /* c */ ('http://h/x', CSV)", "url()"),
        ("SELECT * FROM `s3Cluster`\n('c', 'x')", "s3Cluster()"),
        ("SELECT `dictGet`('d', 'v', 1)", "dictGet()"),
        ("SELECT $$ never closed", "unterminated"),
        ("SELECT 'unterminated", "unterminated"),
        ("SELECT 1 /* open", "unterminated"),
    ],
)
def test_everything_else_is_refused(query: str, reason: str) -> None:
    with pytest.raises(QueryRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_read_only(query)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_literal_content_never_changes_the_verdict(text: str) -> None:
    """Whatever a string literal holds (keywords, ';', comments, quotes), a SELECT of it passes
    unchanged, and positions in code_only() match the original text."""
    literal = "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"
    query = f"SELECT {literal} AS v"
    assert check_read_only(query) == query
    assert len(code_only(query)) == len(query)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        (["InsertQuery (children 1)"], "not a read statement"),
        (["KillQueryQuery"], "not a read statement"),
        ([], "not a read statement"),
        (["SelectWithUnionQuery (children 1)", "    Function file (children 1)"], "file()"),
        (
            ["DescribeQuery (children 2)", " TableExpression (children 1)", "  Function url (children 1)"],
            "url()",
        ),
        (["SelectWithUnionQuery (children 1)", "   Function dictGetString (children 1)"], "dictGetString()"),
        (
            ["SelectWithUnionQuery (children 1)", "   Function executablePool (children 1)"],
            "executablePool()",
        ),
        (["SelectWithUnionQuery (children 2)", "  Set"], "SETTINGS"),
    ],
)
def test_engine_parse_is_judged(lines: list[str], reason: str) -> None:
    with pytest.raises(QueryRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check_syntax_tree(lines)


def test_engine_parse_of_reads_passes() -> None:
    check_syntax_tree(
        [
            "SelectWithUnionQuery (children 1)",
            "   Function lower (children 1)",
            "     Literal 'Function file (children 1)'",
            "   Identifier file_name",
        ]
    )
    for head in (
        "DescribeQuery (children 1)",
        "ShowTables",
        "Explain EXPLAIN (children 1)",
        "ExistsTableQuery  t",
    ):
        check_syntax_tree([head])
