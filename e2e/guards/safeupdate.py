"""A stand-in for ``safeupdate``: find UPDATE and DELETE statements without a WHERE clause.

Supabase loads the ``safeupdate`` library into every session of ``authenticator``, the role
PostgREST logs in as (``alter role authenticator set session_preload_libraries = 'safeupdate'``
in the supabase/postgres image's migrations; supautils is preloaded server-wide). From a
post-parse-analysis hook it refuses, with SQLSTATE 21000 ("DELETE requires a WHERE clause"), every
UPDATE or DELETE whose query has no qualification, wherever the statement is analysed in such a
session: a request's own statement, a data-modifying CTE, the body of a SQL or PL/pgSQL function, a
trigger, or the functions a commit-time REFRESH MATERIALIZED VIEW calls. Debian packages no build
of it, so the embedded stack cannot load it; this module reads the same statements with
PostgreSQL's own parser (pglast, libpg_query for PostgreSQL 15) and reports each one safeupdate
would refuse. ``where true`` is how code says "every row", and passes, exactly
as it does there.

What it cannot see is reported too, rather than passed: dynamic SQL (EXECUTE) and function
languages other than SQL and PL/pgSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import parser

# The statements safeupdate checks (its delete_needs_where_check: CMD_DELETE and CMD_UPDATE).
CHECKED = {"DeleteStmt": "DELETE", "UpdateStmt": "UPDATE"}
# PL/pgSQL's parse modes (PostgreSQL's RawParseMode): a whole statement, an expression, and the
# three forms of an assignment ("target := expression").
STATEMENT_MODE = 0
ASSIGNMENT_MODES = (3, 4, 5)


@dataclass(frozen=True)
class Finding:
    """One statement safeupdate would refuse (or one the check cannot read)."""

    function: str
    problem: str
    statement: str

    def __str__(self) -> str:
        return f"{self.function}: {self.problem}: {' '.join(self.statement.split())}"


def unqualified_writes(sql: str) -> Iterator[str]:
    """``"DELETE FROM <table>"`` / ``"UPDATE <table>"`` for each unqualified write in ``sql``."""
    tree = json.loads(parser.parse_sql_json(sql))
    for node in _walk(tree):
        for kind, command in CHECKED.items():
            stmt = node.get(kind)
            if isinstance(stmt, dict) and stmt.get("whereClause") is None:
                rel = stmt.get("relation", {})
                name = ".".join(p for p in (rel.get("schemaname"), rel.get("relname")) if p)
                yield f"{command} {'FROM ' if command == 'DELETE' else ''}{name}"


def check_function(name: str, language: str, source: str, definition: str) -> list[Finding]:
    """The findings in one function: ``source`` is its body, ``definition`` its CREATE statement."""
    if language == "sql":
        statements = [source]
    elif language == "plpgsql":
        statements, dynamic = _plpgsql_statements(definition)
        if dynamic:
            return [Finding(name, "dynamic SQL (EXECUTE) cannot be checked", q) for q in dynamic]
    else:
        return [Finding(name, f"functions in {language} cannot be checked", "")]
    return [
        Finding(name, f"{write} without a WHERE clause (safeupdate: SQLSTATE 21000)", statement)
        for statement in statements
        for write in unqualified_writes(statement)
    ]


def check_database(conn: Any, schemas: tuple[str, ...]) -> list[Finding]:
    """The findings in every function and procedure of ``schemas`` in ``conn``'s database."""
    rows = conn.execute(
        """
        select p.oid::regprocedure::text, l.lanname, p.prosrc, pg_get_functiondef(p.oid)
        from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace
        join pg_language l on l.oid = p.prolang
        where n.nspname = any(%s) and p.prokind in ('f', 'p')
        order by 1
        """,
        [list(schemas)],
    ).fetchall()
    return [f for row in rows for f in check_function(*row)]


def check_migration(sql: str) -> list[Finding]:
    """The findings in every CREATE FUNCTION / PROCEDURE of a migration file's text."""
    tree = json.loads(parser.parse_sql_json(sql))
    findings = []
    encoded = sql.encode()  # statement locations are byte offsets
    for raw in tree["stmts"]:
        stmt = raw["stmt"].get("CreateFunctionStmt")
        if stmt is None:
            continue
        start = raw.get("stmt_location", 0)
        definition = encoded[start : start + raw["stmt_len"]].decode()
        name = ".".join(n["String"]["sval"] for n in stmt["funcname"])
        options = {o["DefElem"]["defname"]: o["DefElem"]["arg"] for o in stmt.get("options", [])}
        language = options.get("language", {}).get("String", {}).get("sval", "sql")
        body = options.get("as", {}).get("List", {}).get("items", [{}])[0]
        source = body.get("String", {}).get("sval", "")
        findings += check_function(name, language, source, definition)
    return findings


def _plpgsql_statements(definition: str) -> tuple[list[str], list[str]]:
    """Every SQL statement of a PL/pgSQL function, and the queries of its EXECUTEs."""
    statements, dynamic = [], []
    for node in _walk(pglast.parse_plpgsql(definition)):
        if "PLpgSQL_stmt_dynexecute" in node or "PLpgSQL_stmt_dynfors" in node:
            stmt = node.get("PLpgSQL_stmt_dynexecute") or node["PLpgSQL_stmt_dynfors"]
            dynamic.append(stmt["query"]["PLpgSQL_expr"]["query"])
        expr = node.get("PLpgSQL_expr")
        if isinstance(expr, dict):
            query, mode = expr["query"], expr.get("parseMode", STATEMENT_MODE)
            if mode in ASSIGNMENT_MODES:
                query = re.split(r":?=", query, maxsplit=1)[1]
            # an expression cannot hold a write, but it is parsed all the same
            statements.append(query if mode == STATEMENT_MODE else f"select {query}")
    return statements, dynamic


def _walk(node: Any) -> Iterator[dict]:
    """Every dict in a JSON tree, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)
