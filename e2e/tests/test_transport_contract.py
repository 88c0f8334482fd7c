"""What the transports promise before any scenario relies on it: tokens, statuses, filters."""

from __future__ import annotations

import jwt
import pytest

from transport import ANON, Reference, http_status
from transport.base import check_filters, split_order
from transport.replay import _array_literal
from transport.tokens import access_token_claims, api_key, token_for, verify

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"

# The claims the auth server puts in a user's access token (supabase-facts.md).
GOTRUE_CLAIMS = {
    "iss", "sub", "aud", "iat", "exp", "email", "phone", "app_metadata", "user_metadata", "role",
    "aal", "amr", "session_id", "is_anonymous",
}  # fmt: skip


def test_user_tokens_carry_the_auth_servers_claims(reference: Reference) -> None:
    """A signed-in persona's token has exactly the auth server's claims, for that user, for 1 h."""
    mentor = reference["mentor_a"]
    claims = verify(token_for(mentor, SECRET), SECRET)
    assert set(claims) == GOTRUE_CLAIMS
    assert (claims["sub"], claims["email"]) == (mentor.user_id, mentor.email)
    assert (claims["role"], claims["aud"], claims["is_anonymous"]) == (
        "authenticated", "authenticated", False
    )  # fmt: skip
    assert claims["exp"] - claims["iat"] == 3600


def test_anon_persona_sends_the_anon_key() -> None:
    """The anon persona's token is the stack's anon key: role anon, issued by supabase-demo."""
    claims = verify(token_for(ANON, SECRET), SECRET)
    assert claims == {"iss": "supabase-demo", "role": "anon", "exp": 1983812996}
    assert token_for(ANON, SECRET) == api_key("anon", SECRET)


def test_tokens_signed_with_another_secret_do_not_verify(reference: Reference) -> None:
    """The replay accepts only tokens signed with the stack's secret, and no expired ones."""
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token_for(reference["mentor_a"], "another-secret-of-at-least-32-characters"), SECRET)
    expired = access_token_claims(reference["mentor_a"], now=1_000_000)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(jwt.encode(expired, SECRET, algorithm="HS256"), SECRET)


@pytest.mark.parametrize(
    ("sqlstate", "message", "authenticated", "status"),
    [
        ("42501", "permission denied for table activities", False, 401),
        ("42501", "new row violates row-level security policy for table", True, 403),
        ("23505", "duplicate key value violates unique constraint", True, 409),
        ("23503", "insert or update on table violates foreign key constraint", True, 409),
        ("23502", "null value in column violates not-null constraint", True, 400),
        ("23514", "new row violates check constraint", True, 400),
        ("22P02", "invalid input syntax for type integer", True, 400),
        ("P0001", "a coordinator belongs to at most five chapters", True, 400),
        ("PT418", "raised with a chosen status", True, 418),
        ("25006", "cannot execute INSERT in a read-only transaction", True, 405),
        ("42P01", "relation does not exist", True, 404),
        ("42883", "function does not exist", True, 404),
        ("57014", "canceling statement due to statement timeout", True, 500),
        ("40001", "could not serialize access", True, 500),
        ("22023", 'role "nobody" does not exist', True, 401),
    ],
)
def test_errors_get_postgrests_http_status(sqlstate, message, authenticated, status) -> None:
    """PostgreSQL errors map to the HTTP status PostgREST answers them with."""
    assert http_status(sqlstate, message, authenticated=authenticated) == status


def test_in_filter_values_are_quoted_as_postgrest_quotes_them() -> None:
    """`in` values become one array literal, each element quoted and escaped."""
    assert _array_literal(["a", 'b"c', "d\\e", 7]) == '{"a","b\\"c","d\\\\e","7"}'


def test_malformed_filters_and_orders_are_refused() -> None:
    """Operators PostgREST's clients would not send are a mistake in the test, not a request."""
    with pytest.raises(ValueError, match="unsupported filter operator"):
        check_filters([("id", "like", "x")])
    with pytest.raises(ValueError, match="list of values"):
        check_filters([("id", "in", "abc")])
    with pytest.raises(ValueError, match="order must be"):
        split_order("id.sideways")
    assert split_order("month.desc") == ("month", True)
