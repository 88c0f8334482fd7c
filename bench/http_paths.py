"""The write the app makes, timed end to end: one INSERT through the gateway and PostgREST.

The mentor the benchmark writes as posts one activity per request over a keep-alive HTTP
connection, with a session token of the auth server's shape and ``Prefer: return=minimal`` (the
app reads the statistics, not the row back). PostgREST runs the same transaction the SQL-level
figures time (role ``authenticated``, the claims, INSERT, COMMIT with the refresh trigger), so
the difference between the two is what HTTP, the gateway and PostgREST add.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from time import perf_counter_ns
from zoneinfo import ZoneInfo

import httpx

import harness
from transport import Persona
from transport.tokens import Issuer, access_token_claims

from .paths import Actors, elapsed_ms

OSLO = ZoneInfo("Europe/Oslo")


class HttpWrites:
    """A keep-alive HTTP client of the stack's API, signed in as the benchmark's mentor."""

    def __init__(self, stack: harness.Stack, actors: Actors) -> None:
        if not (stack.rest_url and stack.anon_key):
            raise RuntimeError(f"the {stack.kind} stack serves no HTTP API")
        self.actors = actors
        mentor = Persona("bench mentor", "authenticated", user_id=actors.mentor_id)
        token = Issuer(stack.jwt_secret, stack.session_key).sign_session(
            access_token_claims(mentor)
        )
        self.client = httpx.Client(
            base_url=stack.rest_url,
            headers={
                "apikey": stack.anon_key,
                "Authorization": f"Bearer {token}",
                "Prefer": "return=minimal",
            },
            timeout=httpx.Timeout(30.0),
        )
        self._sequence = 0

    def close(self) -> None:
        self.client.close()

    def insert(self) -> float:
        """POST one activity of the mentor, as the app does; milliseconds until the answer."""
        a = self.actors
        self._sequence += 1
        today = datetime.now(OSLO).date()
        body = {
            "peer_mentor_id": a.mentor_id,
            "chapter_id": a.chapter_id,
            "activity_type_id": a.activity_type_id,
            # within the last 20 days, as the SQL path's rows
            "activity_date": (today - timedelta(days=self._sequence % 20)).isoformat(),
            "duration_minutes": 15 + (self._sequence % 4) * 15,
        }
        start = perf_counter_ns()
        response = self.client.post("/activities", json=body)
        took = elapsed_ms(start)
        if response.status_code != 201:
            raise RuntimeError(f"the API refused the benchmark's insert: {response.text}")
        return took
