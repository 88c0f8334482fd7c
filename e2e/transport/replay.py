"""A replay of what PostgREST does for each request, on a direct connection (decision D2).

Requests go to the database the way PostgREST v16.2 (the version the pinned CLI runs) sends them:
logged in as ``authenticator``, per request one transaction (``READ ONLY`` for reads and for calls
of STABLE functions; the isolation level of the role's, or for a call the function's,
``default_transaction_isolation``, else READ COMMITTED), one ``select set_config(...)`` that sets
the search path, the role's own settings, the role named by the token's ``role`` claim (else anon),
``request.jwt.claims`` (always with that role), the method, path, headers and cookies, and for a
call the function's hoisted settings; then the statement in PostgREST's shape (a CTE-wrapped SELECT
aggregated with ``json_agg`` and limited to ``db-max-rows``; ``INSERT ... SELECT ... FROM
json_to_recordset($1)``; a LATERAL function call, its result limited like a read), then COMMIT.
PostgreSQL's errors come back with the HTTP status PostgREST gives.

The token is checked as PostgREST v16.2 checks it (``tokens.verify``) against the stack's key set.
Where the PostgREST that runs here (12.0.2) answers otherwise, ``differences.py`` says so; the
parity suite (``test_replay_parity.py``) sends the same requests both ways and holds the two to it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.types.json import Json

from harness.keys import SessionKey

from . import tokens
from .base import Client, Filter, Returning, Transport, check_filters, jsonable, split_order
from .personas import Persona
from .result import ApiError, Result, http_status

# `supabase start`'s local password for the API login role; a public development default.
AUTHENTICATOR_PASSWORD = "postgres"

_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_IS_VALUES = {None: "NULL", True: "TRUE", False: "FALSE"}

# The response part of every statement, as PostgREST selects it.
_RESPONSE_COLUMNS = sql.SQL(
    "nullif(current_setting('response.headers', true), '') AS response_headers, "
    "nullif(current_setting('response.status', true), '') AS response_status"
)
_JSON_BODY = sql.SQL("coalesce(json_agg(_postgrest_t), '[]')")


# Function settings PostgREST v16.2 applies to a call of the function (db-hoisted-tx-settings'
# default, Config.hs): each is a regular expression matched against the function's `name=value`.
HOISTED_TX_SETTINGS = (
    "statement_timeout",
    "plan_filter.statement_cost_limit",
    "default_transaction_isolation",
)
ISOLATION_LEVELS = {"repeatable read": "REPEATABLE READ", "serializable": "SERIALIZABLE"}


def isolation_level(value: str | None) -> str:
    """PostgREST's ``toIsolationLevel``: anything but these two (case-blind) is READ COMMITTED."""
    return ISOLATION_LEVELS.get((value or "").lower(), "READ COMMITTED")


def claims_json(claims: Mapping[str, Any], role: str) -> str:
    """``request.jwt.claims`` as PostgREST v16 sets it: the token's claims with ``role`` set to the
    role the request runs as, encoded as aeson encodes them (compact, keys in order)."""
    return json.dumps({**claims, "role": role}, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class _Routine:
    read_only: bool
    returns_set: bool
    returns_composite: bool
    params: dict[str, str]  # input parameter name -> type
    isolation: str | None  # the function's default_transaction_isolation, if it sets one
    settings: tuple[tuple[str, str], ...]  # its hoisted settings, (name, value)


@dataclass(frozen=True)
class RoleSettings:
    """What PostgREST reads of the roles ``authenticator`` is a member of, once, at startup."""

    settings: dict[str, list[tuple[str, str]]]  # role -> (name, value), as written
    isolation: dict[str, str]  # role -> its default_transaction_isolation


# PostgREST v16.2's queryRoleSettings (Config/Database.hs), PostgreSQL 15 and later: the settings of
# `alter role ... set` (not `in database`) of the roles authenticator is directly a member of, kept
# only where a user may set them or authenticator was granted SET on them.
ROLE_SETTINGS_SQL = """
with
role_setting as (
  select r.rolname, unnest(r.rolconfig) as setting
  from pg_auth_members m
  join pg_roles r on r.oid = m.roleid
  where member = quote_ident(current_user)::regrole::oid
),
kv_settings as (
  select rolname,
         substr(setting, 1, strpos(setting, '=') - 1) as key,
         substr(setting, strpos(setting, '=') + 1) as value
  from role_setting
),
iso_setting as (
  select rolname, value from kv_settings where key = 'default_transaction_isolation'
)
select kv.rolname, i.value as iso_lvl,
       coalesce(array_agg(array[kv.key, kv.value])
                  filter (where key <> 'default_transaction_isolation'), '{}') as role_settings
from kv_settings kv
join pg_settings ps on ps.name = kv.key
  and (ps.context = 'user'
       or has_parameter_privilege(quote_ident(current_user)::regrole::oid, ps.name, 'set'))
left join iso_setting i on i.rolname = kv.rolname
group by kv.rolname, i.value
"""


class SqlReplayTransport(Transport):
    """Requests replayed on connections as ``authenticator`` to ``db_url``'s database."""

    name = "sql-replay"

    def __init__(
        self,
        db_url: str,
        jwt_secret: str,
        *,
        session_key: SessionKey | None = None,
        schema: str = "public",
        extra_search_path: Sequence[str] = ("public", "extensions"),
        anon_role: str = "anon",
        max_rows: int | None = 1000,
        password: str = AUTHENTICATOR_PASSWORD,
    ) -> None:
        super().__init__()
        self.conninfo = make_conninfo(db_url, user="authenticator", password=password)
        self.jwt_secret = jwt_secret
        self.issuer = tokens.Issuer(jwt_secret, session_key)
        self.schema = schema
        self.search_path = ", ".join(
            sql.Identifier(s).as_string() for s in (schema, *extra_search_path)
        )
        self.anon_role = anon_role
        self.max_rows = max_rows  # `[api] max_rows` of supabase/config.toml

    def open_client(self, persona: Persona, token: str | None = None) -> SqlReplayClient:
        """A client on a connection of its own; ``token`` replaces the persona's own token."""
        return SqlReplayClient(self, persona, token or self.issuer.token_for(persona))

    def describe(self) -> str:
        return "sql-replay (PostgREST's per-request protocol on a connection as authenticator)"


class SqlReplayClient(Client):
    def __init__(self, transport: SqlReplayTransport, persona: Persona, token: str) -> None:
        self.transport = transport
        self.persona = persona
        self.token = token
        self.conn = psycopg.connect(transport.conninfo, autocommit=True)
        self._columns: dict[str, dict[str, str] | None] = {}
        self._routines: dict[str, _Routine | None] = {}
        self._role_settings: RoleSettings | None = None

    @property
    def access_token(self) -> str:
        """The bearer token this client's requests carry."""
        return self.token

    def close(self) -> None:
        self.conn.close()

    # -- requests -----------------------------------------------------------------------------

    def select(
        self,
        relation: str,
        columns: str = "*",
        *,
        filters: Sequence[Filter] = (),
        order: str | None = None,
        count: bool = False,
    ) -> Result:
        if self._relation_columns(relation) is None:
            return _no_relation(self.transport.schema, relation)
        rel = sql.Identifier(self.transport.schema, relation)
        where, params = self._where(relation, filters)
        if columns.strip() == "*":
            select_list = sql.SQL("{}.*").format(rel)
        else:
            select_list = sql.SQL(", ").join(
                self._column(relation, c.strip()) for c in columns.split(",")
            )
        order_by = sql.SQL("")
        if order:
            column, descending = split_order(order)
            order_by = sql.SQL(" ORDER BY {} {}").format(
                self._column(relation, column), sql.SQL("DESC" if descending else "ASC")
            )
        read = sql.SQL("SELECT {} FROM {}{}{}{}").format(
            select_list, rel, where, order_by, self._limit()
        )
        if count:
            count_cte = sql.SQL(", pgrst_source_count AS (SELECT 1 FROM {}{})").format(rel, where)
            count_result = sql.SQL("(SELECT pg_catalog.count(*) FROM pgrst_source_count)")
            params = params + params
        else:
            count_cte, count_result = sql.SQL(""), sql.SQL("null::bigint")
        statement = sql.SQL(
            "WITH pgrst_source AS ( {read} ){count_cte} "
            "SELECT {count_result} AS total_result_set, "
            "pg_catalog.count(_postgrest_t) AS page_total, {body} AS body, {response} "
            "FROM ( SELECT * FROM pgrst_source ) _postgrest_t"
        ).format(
            read=read, count_cte=count_cte, count_result=count_result, body=_JSON_BODY,
            response=_RESPONSE_COLUMNS,
        )  # fmt: skip
        prefer = "count=exact" if count else None
        return self._request("GET", f"/{relation}", statement, params, read_only=True,
                             prefer=prefer, ok_status=200)  # fmt: skip

    def insert(
        self,
        table: str,
        rows: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *,
        returning: Returning = "representation",
    ) -> Result:
        types = self._relation_columns(table)
        if types is None:
            return _no_relation(self.transport.schema, table)
        many = not isinstance(rows, Mapping)
        keys = sorted({k for row in (rows if many else [rows]) for k in row})
        if unknown := next((k for k in keys if k not in types), None):
            return _no_column(unknown, table)
        rel = sql.Identifier(self.transport.schema, table)
        columns = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
        body = self._json_body(keys, types, many=many, limit_one=False)
        target = sql.SQL("({}) ").format(columns) if keys else sql.SQL(" ")
        values = sql.SQL(", ").join(sql.Identifier("pgrst_body", k) for k in keys)
        mutate = sql.SQL("INSERT INTO {rel}{target}SELECT {values} {body}{returning}").format(
            rel=rel, target=target, values=values, body=body,
            returning=self._returning(rel, returning),
        )  # fmt: skip
        return self._write(
            "POST", f"/{table}", mutate, [Json(jsonable(rows))], returning, ok_status=201
        )

    def update(
        self,
        table: str,
        values: Mapping[str, Any],
        *,
        filters: Sequence[Filter],
        returning: Returning = "representation",
    ) -> Result:
        types = self._relation_columns(table)
        if types is None:
            return _no_relation(self.transport.schema, table)
        keys = sorted(values)
        if unknown := next((k for k in keys if k not in types), None):
            return _no_column(unknown, table)
        if not keys:
            raise ValueError("an update needs at least one column")
        rel = sql.Identifier(self.transport.schema, table)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Identifier("pgrst_body", k))
            for k in keys
        )
        body = self._json_body(keys, types, many=False, limit_one=False)
        where, params = self._where(table, filters)
        mutate = sql.SQL("UPDATE {rel} SET {assignments} {body}{where} {returning}").format(
            rel=rel, assignments=assignments, body=body, where=where,
            returning=self._returning(rel, returning),
        )  # fmt: skip
        ok = 200 if returning == "representation" else 204
        return self._write(
            "PATCH", f"/{table}", mutate, [Json(jsonable(values)), *params], returning, ok
        )

    def delete(
        self, table: str, *, filters: Sequence[Filter], returning: Returning = "representation"
    ) -> Result:
        if self._relation_columns(table) is None:
            return _no_relation(self.transport.schema, table)
        rel = sql.Identifier(self.transport.schema, table)
        where, params = self._where(table, filters)
        mutate = sql.SQL("DELETE FROM {rel} {where} {returning}").format(
            rel=rel, where=where, returning=self._returning(rel, returning)
        )
        ok = 200 if returning == "representation" else 204
        return self._write("DELETE", f"/{table}", mutate, params, returning, ok)

    def rpc(self, function: str, params: Mapping[str, Any] | None = None) -> Result:
        params = dict(params or {})
        routine = self._routine(function)
        if routine is None or any(k not in routine.params for k in params):
            names = ", ".join(sorted(params))
            return Result(404, error=ApiError(
                "PGRST202",
                f"Could not find the function {self.transport.schema}.{function}({names}) "
                "in the schema cache",
            ))  # fmt: skip
        fn = sql.Identifier(self.transport.schema, function)
        keys = sorted(params)
        if keys:
            source = self._json_body(keys, routine.params, many=False, limit_one=True)
            arguments = sql.SQL(", ").join(
                sql.SQL("{} := {}").format(sql.Identifier(k), sql.Identifier("pgrst_body", k))
                for k in keys
            )
            args = [Json(jsonable(params))]
            call_from = sql.SQL("{source}, LATERAL ").format(source=source)
        else:
            arguments, args, call_from = sql.SQL(""), [], sql.SQL("FROM ")
        if routine.returns_composite:
            call = sql.SQL("SELECT pgrst_call.* {}{}({}) pgrst_call")
            body = _JSON_BODY
        else:
            call = sql.SQL(
                "SELECT pgrst_call.pgrst_scalar {}(SELECT {}({}) pgrst_scalar) pgrst_call"
            )
            agg = "json_agg(_postgrest_t.pgrst_scalar)"
            body = sql.SQL(
                f"coalesce({agg}, '[]')" if routine.returns_set else f"coalesce({agg}->0, 'null')"
            )
        # the result is read like a relation: db-max-rows limits it too (Plan.hs readPlan)
        statement = sql.SQL(
            "WITH pgrst_source AS ({call}) "
            "SELECT null::bigint AS total_result_set, "
            "pg_catalog.count(_postgrest_t) AS page_total, "
            "{body} AS body, {response} "
            "FROM (SELECT pgrst_source.* FROM pgrst_source{limit}) _postgrest_t"
        ).format(
            call=call.format(call_from, fn, arguments), body=body, response=_RESPONSE_COLUMNS,
            limit=self._limit(),
        )  # fmt: skip
        return self._request("POST", f"/rpc/{function}", statement, args,
                             read_only=routine.read_only, prefer=None, ok_status=200,
                             routine=routine)  # fmt: skip

    # -- the per-request protocol --------------------------------------------------------------

    def _write(
        self,
        method: str,
        path: str,
        mutate: sql.Composable,
        params: list[Any],
        returning: Returning,
        ok_status: int,
    ) -> Result:
        body = _JSON_BODY if returning == "representation" else sql.SQL("''")
        statement = sql.SQL(
            "WITH pgrst_source AS ({mutate}) "
            "SELECT '' AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
            "array[]::text[] AS header, {body} AS body, {response} "
            "FROM (SELECT * FROM pgrst_source) _postgrest_t"
        ).format(mutate=mutate, body=body, response=_RESPONSE_COLUMNS)
        return self._request(method, path, statement, params, read_only=False,
                             prefer=f"return={returning}", ok_status=ok_status)  # fmt: skip

    def _request(
        self,
        method: str,
        path: str,
        statement: sql.Composable,
        params: list[Any],
        *,
        read_only: bool,
        prefer: str | None,
        ok_status: int,
        routine: _Routine | None = None,
    ) -> Result:
        try:
            claims = tokens.verify(self.token, self.transport.issuer.jwks)
        except tokens.JwtRejected as exc:
            return Result(401, error=ApiError(exc.code, exc.message, exc.details))
        role = claims.get("role")
        role = role if isinstance(role, str) and role else self.transport.anon_role
        authenticated = role != self.transport.anon_role
        role_settings = self.role_settings()
        settings = [
            ("search_path", self.transport.search_path),
            *role_settings.settings.get(role, []),
            ("role", role),
            ("request.jwt.claims", claims_json(claims, role)),
            ("request.method", method),
            ("request.path", path),
            ("request.headers", json.dumps(self._headers(prefer))),
            ("request.cookies", "{}"),
            *(routine.settings if routine else ()),
        ]
        set_config = sql.SQL("select ") + sql.SQL(", ").join(
            sql.SQL("set_config({}, {}, true)").format(sql.Literal(k), sql.Placeholder())
            for k, _ in settings
        )
        isolation = isolation_level(
            routine.isolation
            if routine and routine.isolation
            else role_settings.isolation.get(role)
        )
        access = "READ ONLY" if read_only else "READ WRITE"
        # an autocommit connection: the transaction is spelled out as PostgREST's is
        try:
            self.conn.execute(f"BEGIN ISOLATION LEVEL {isolation} {access}")
            try:
                self.conn.execute(set_config, [v for _, v in settings])
                row = self.conn.execute(statement, params).fetchone()
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.info.transaction_status != TransactionStatus.IDLE:
                    self.conn.execute("ROLLBACK")
                raise
        except psycopg.Error as exc:
            if exc.sqlstate is None:
                raise
            message = exc.diag.message_primary or str(exc)
            error = ApiError(exc.sqlstate, message, exc.diag.message_detail, exc.diag.message_hint)
            status = http_status(exc.sqlstate, message, authenticated=authenticated)
            return Result(status, error=error)
        total, _page_total, *_, body, _headers, status_guc = row
        rows = body if isinstance(body, list) else ([] if body in ("", None) else [body])
        count = total if isinstance(total, int) else None
        return Result(int(status_guc) if status_guc else ok_status, rows=rows, count=count)

    def _headers(self, prefer: str | None) -> dict[str, str]:
        headers = {
            "accept": "application/json",
            "apikey": tokens.api_key(self.transport.anon_role, self.transport.jwt_secret),
            "authorization": f"Bearer {self.token}",
            "content-type": "application/json",
            "x-client-info": "e2e-sql-replay",
        }
        if prefer:
            headers["prefer"] = prefer
        return headers

    # -- statement parts ----------------------------------------------------------------------

    def _column(self, relation: str, column: str) -> sql.Composable:
        return sql.Identifier(self.transport.schema, relation, column)

    def _where(self, relation: str, filters: Sequence[Filter]) -> tuple[sql.Composable, list[Any]]:
        terms, params = [], []
        for column, op, value in check_filters(filters):
            col = self._column(relation, column)
            if op == "is":
                terms.append(sql.SQL("{} IS {}").format(col, sql.SQL(_IS_VALUES[value])))
            elif op == "in":
                # an array literal of unknown type, which PostgreSQL casts to the column's
                terms.append(sql.SQL("{} = ANY (%t)").format(col))
                params.append(_array_literal(value))
            else:
                terms.append(sql.SQL("{} {} %t").format(col, sql.SQL(_COMPARISONS[op])))
                params.append(_text(value))
        if not terms:
            return sql.SQL(""), []
        return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params

    def _json_body(
        self, keys: list[str], types: Mapping[str, str], *, many: bool, limit_one: bool
    ) -> sql.Composable:
        """PostgREST's ``FROM (SELECT $1 AS json_data) pgrst_payload, LATERAL (...) pgrst_body``."""
        if not keys:
            rows = (
                sql.SQL("(values(1)) _")
                if not many
                else sql.SQL("json_array_elements(pgrst_payload.json_data) _")
            )
            return sql.SQL(
                "FROM (SELECT %b AS json_data) pgrst_payload, LATERAL (SELECT FROM {}) pgrst_body "
            ).format(rows)
        fn = sql.SQL("json_to_recordset" if many else "json_to_record")
        typed = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(k), sql.SQL(types[k])) for k in keys
        )
        names = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
        return sql.SQL(
            "FROM (SELECT %b AS json_data) pgrst_payload, "
            "LATERAL (SELECT {names} FROM {fn}(pgrst_payload.json_data) AS _({typed}) {limit}) "
            "pgrst_body "
        ).format(names=names, fn=fn, typed=typed, limit=sql.SQL("LIMIT 1" if limit_one else ""))

    def _limit(self) -> sql.Composable:
        """db-max-rows on a read, as PostgREST's limitOffsetF writes it."""
        if self.transport.max_rows is None:
            return sql.SQL("")
        return sql.SQL(" LIMIT {} OFFSET 0").format(sql.Literal(self.transport.max_rows))

    @staticmethod
    def _returning(rel: sql.Identifier, returning: Returning) -> sql.Composable:
        if returning == "representation":
            return sql.SQL("RETURNING {}.*").format(rel)
        return sql.SQL("RETURNING 1")

    # -- the schema cache ---------------------------------------------------------------------

    def _relation_columns(self, relation: str) -> dict[str, str] | None:
        """Column name -> type of a table or view of the API schema, None when there is none."""
        if relation not in self._columns:
            row = self.conn.execute(
                """
                select json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
                from pg_class c
                join pg_namespace n on n.oid = c.relnamespace
                join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')
                """,
                [self.transport.schema, relation],
            ).fetchone()
            self._columns[relation] = row[0] if row else None
        return self._columns[relation]

    def _routine(self, function: str) -> _Routine | None:
        if function not in self._routines:
            row = self.conn.execute(
                """
                select p.provolatile in ('s', 'i'), p.proretset,
                       t.typtype = 'c' or p.prorettype = 'record'::regtype,
                       (select coalesce(json_object_agg(a.name, format_type(a.type, null)), '{}')
                        from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]),
                                    p.proargnames, p.proargmodes) as a(type, name, mode)
                        where coalesce(a.mode, 'i') in ('i', 'b', 'v') and a.name <> ''),
                       (select (regexp_split_to_array((regexp_split_to_array(c, '='))[2], ','))[1]
                        from unnest(p.proconfig) c
                        where c like 'default_transaction_isolation%%' limit 1),
                       (select coalesce(array_agg(array[substr(c, 1, strpos(c, '=') - 1),
                                                         substr(c, strpos(c, '=') + 1)]), '{}')
                        from unnest(p.proconfig) c where c ~ any(%s))
                from pg_proc p
                join pg_namespace n on n.oid = p.pronamespace
                join pg_type t on t.oid = p.prorettype
                where n.nspname = %s and p.proname = %s
                """,
                [list(HOISTED_TX_SETTINGS), self.transport.schema, function],
            ).fetchone()
            if row:
                *shape, isolation, hoisted = row
                settings = tuple((k, v) for k, v in hoisted)
                self._routines[function] = _Routine(*shape, isolation, settings)
            else:
                self._routines[function] = None
        return self._routines[function]

    def role_settings(self) -> RoleSettings:
        """The impersonable roles' settings and isolation levels, read once as PostgREST does."""
        if self._role_settings is None:
            rows = self.conn.execute(ROLE_SETTINGS_SQL).fetchall()
            self._role_settings = RoleSettings(
                settings={rolname: [(k, v) for k, v in pairs] for rolname, _, pairs in rows},
                isolation={rolname: iso for rolname, iso, _ in rows if iso is not None},
            )
        return self._role_settings


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _array_literal(values: Sequence[Any]) -> str:
    """PostgREST's array literal for ``in``: every element double-quoted and escaped."""
    quoted = ('"' + _text(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def _no_relation(schema: str, relation: str) -> Result:
    return Result(404, error=ApiError(
        "PGRST205", f"Could not find the table '{schema}.{relation}' in the schema cache"
    ))  # fmt: skip


def _no_column(column: str, table: str) -> Result:
    return Result(400, error=ApiError(
        "PGRST204", f"Could not find the '{column}' column of '{table}' in the schema cache"
    ))  # fmt: skip
