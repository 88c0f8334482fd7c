"""Fixtures that run each end-to-end scenario on every transport the stack offers (decision D2).

``api`` is parametrised over ``sql-replay`` and ``http``, so test ids read ``test_x[sql-replay]``.
The HTTP transport needs the stack's ``API_URL`` (`supabase start`, and the embedded stack's
PostgREST behind its gateway); on a stack without one its tests are skipped with that reason. The
report header, and a summary line that ``-q`` keeps, say which stack and transports ran, and which
PostgREST answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import psycopg
import pytest

import harness
from harness import StackError, versions
from transport import Client, HttpTransport, Reference, SqlReplayTransport, Transport
from transport.tokens import Issuer

TRANSPORTS = ("sql-replay", "http")
# test id -> the transport it runs on, and what the run's transports were told about the stack
TRANSPORT_OF = pytest.StashKey[dict[str, str]]()
STACK_NOTES = pytest.StashKey[dict[str, str]]()
LAST_LINE = pytest.StashKey[str]()


def _http_unavailable(stack: harness.Stack) -> str | None:
    """Why the HTTP transport cannot run on this stack, or None when it can."""
    if not stack.api_url:
        return f"the {stack.kind} stack serves no HTTP API (it has no API_URL)"
    if not (stack.anon_key and stack.service_role_key):
        return "the stack's status gives no ANON_KEY or SERVICE_ROLE_KEY"
    return None


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        stack = harness.current()
    except StackError:
        return []
    why_not = _http_unavailable(stack)
    http = "http runs" if why_not is None else f"http is skipped: {why_not}"
    return [f"e2e transports: sql-replay runs; {http}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    callspecs = ((item.nodeid, getattr(item, "callspec", None)) for item in items)
    config.stash[TRANSPORT_OF] = {
        nodeid: spec.params["api"] for nodeid, spec in callspecs if spec and "api" in spec.params
    }


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Which stack the scenarios ran on, which PostgREST answered and how each transport fared;
    written after pytest's own count (pytest_unconfigure), so it is the run's last line."""
    transport_of = config.stash.get(TRANSPORT_OF, {})
    if not transport_of:
        return
    outcomes: dict[str, Counter] = {t: Counter() for t in TRANSPORTS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            transport = transport_of.get(getattr(report, "nodeid", ""))
            if transport:
                outcomes[transport][outcome] += 1
    notes = config.stash.get(STACK_NOTES, {})
    parts = []
    for transport, counts in outcomes.items():
        if not counts:
            continue
        tally = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
        why = f", because {notes[transport]}" if transport in notes else ""
        served = (
            f" (against {notes[f'{transport} server']})" if f"{transport} server" in notes else ""
        )
        parts.append(f"{transport}{served}: {tally}{why}")
    stack = notes.get("stack", "unknown")
    config.stash[LAST_LINE] = f"e2e on the {stack} stack; " + "; ".join(parts)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    line = config.stash.get(LAST_LINE, None)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if line and terminal:
        terminal.write_line(line)


@pytest.fixture(scope="session", params=TRANSPORTS)
def api(
    request: pytest.FixtureRequest, stack: harness.Stack, reference: Reference
) -> Iterator[Transport]:
    """One transport for the whole run, its clients signed in once per persona."""
    notes = request.config.stash.setdefault(STACK_NOTES, {})
    notes["stack"] = stack.kind
    if request.param == "http":
        why_not = _http_unavailable(stack)
        if why_not:
            notes["http"] = why_not
            pytest.skip(f"http transport: {why_not}")
        if stack.auth_server:
            transport: Transport = HttpTransport(
                stack.api_url, stack.anon_key, stack.service_role_key, reference.password
            )
            transport.ensure_users(reference.personas.values())
        else:
            # no auth server: the seed's users, with sessions the suite signs as it would
            transport = HttpTransport(
                stack.api_url, stack.anon_key, stack.service_role_key, reference.password,
                issuer=Issuer(stack.jwt_secret, stack.session_key),
            )  # fmt: skip
        version = ".".join(map(str, transport.postgrest_version()))
        notes["http server"] = f"PostgREST {version} behind the gateway at {stack.api_url}"
    else:
        transport = SqlReplayTransport(
            stack.db_url, stack.jwt_secret, session_key=stack.session_key
        )
        notes["sql-replay server"] = f"PostgREST {versions.POSTGREST}'s protocol, replayed"
        try:
            transport.client(reference["anon"])
        except psycopg.OperationalError as exc:
            pytest.exit(f"the SQL replay cannot log in as authenticator: {exc}", returncode=3)
    yield transport
    transport.close()


@pytest.fixture
def as_persona(api: Transport, reference: Reference) -> Callable[[str], Client]:
    """``as_persona("mentor_a")``: that persona's client on the transport under test."""
    return lambda name: api.client(reference[name])
