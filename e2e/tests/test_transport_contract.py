"""What the transports promise before any scenario relies on it: tokens, statuses, filters."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from harness.keys import SessionKey, jwks, oct_jwk
from transport import ANON, ApiError, Reference, Result, http_status
from transport.base import check_filters, split_order
from transport.differences import as_served, parse_version
from transport.replay import _array_literal, claims_json, isolation_level
from transport.tokens import Issuer, JwtRejected, access_token_claims, api_key, token_for, verify

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
# The anon key `supabase start` prints for the default secret (its apikeys.go).
CLI_ANON_KEY = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOj"
    "E5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)

# The claims the auth server puts in a user's access token (docs/embedded-stack.md, "Sessions
# without an auth server").
GOTRUE_CLAIMS = {
    "iss", "sub", "aud", "iat", "exp", "email", "phone", "app_metadata", "user_metadata", "role",
    "aal", "amr", "session_id", "is_anonymous",
}  # fmt: skip


@pytest.fixture(scope="module")
def session_key(tmp_path_factory: pytest.TempPathFactory) -> SessionKey:
    """An EC key of this module's own, as the embedded stack keeps one."""
    return SessionKey.load_or_create(tmp_path_factory.mktemp("keys"))


def test_user_tokens_carry_the_auth_servers_claims(reference: Reference, session_key) -> None:
    """A signed-in persona's token has exactly the auth server's claims, for that user, for 1 h,
    signed ES256 with the stack's key and its kid where it has one."""
    mentor = reference["mentor_a"]
    token = token_for(mentor, SECRET, session_key)
    assert jwt.get_unverified_header(token) == {
        "alg": "ES256", "typ": "JWT", "kid": session_key.kid
    }  # fmt: skip
    claims = verify(token, Issuer(SECRET, session_key).jwks)
    assert set(claims) == GOTRUE_CLAIMS
    assert (claims["sub"], claims["email"]) == (mentor.user_id, mentor.email)
    assert (claims["role"], claims["aud"], claims["is_anonymous"]) == (
        "authenticated", "authenticated", False
    )  # fmt: skip
    assert claims["exp"] - claims["iat"] == 3600
    # without a session key (the replay on `supabase start`): HS256 with the JWT secret
    assert jwt.get_unverified_header(token_for(mentor, SECRET))["alg"] == "HS256"


def test_anon_persona_sends_the_clis_anon_key() -> None:
    """The anon persona's token is the stack's anon key: role anon, issued by supabase-demo, the
    very key `supabase start` prints for the default secret."""
    claims = verify(token_for(ANON, SECRET), SECRET)
    assert claims == {"iss": "supabase-demo", "role": "anon", "exp": 1983812996}
    assert token_for(ANON, SECRET) == api_key("anon", SECRET) == CLI_ANON_KEY


def test_tokens_postgrest_refuses_are_refused_with_its_codes(reference: Reference, session_key):
    """As PostgREST v16.2: another secret or key, `alg: none`, two parts, a kid of no key in the
    set (PGRST301); expired beyond 30 s of leeway, a non-numeric exp (PGRST303)."""
    mentor = reference["mentor_a"]
    key_set = Issuer(SECRET, session_key).jwks
    other_key = SessionKey.generate()
    now = int(time.time())

    def code(token: str) -> tuple[str, str]:
        with pytest.raises(JwtRejected) as refusal:
            verify(token, key_set)
        return refusal.value.code, refusal.value.message

    another = "another-secret-of-at-least-32-characters"
    assert code(token_for(mentor, another)) == ("PGRST301", "No suitable key or wrong key type")
    assert code(token_for(mentor, SECRET, other_key))[0] == "PGRST301"
    unsigned = token_for(ANON, SECRET).rsplit(".", 1)[0].split(".", 1)[1]
    none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    assert code(f"{none_header}.{unsigned}.") == (
        "PGRST301", "Wrong or unsupported encoding algorithm"
    )  # fmt: skip
    assert code("a.b") == ("PGRST301", "Expected 3 parts in JWT; got 2")
    expired = access_token_claims(mentor, now=now - 3600 - 31)
    assert code(jwt.encode(expired, SECRET, algorithm="HS256")) == ("PGRST303", "JWT expired")
    within_leeway = access_token_claims(mentor, now=now - 3600 - 20)
    assert verify(jwt.encode(within_leeway, SECRET, algorithm="HS256"), key_set)["sub"]
    wrong_type = {**access_token_claims(mentor), "exp": "tomorrow"}
    assert code(jwt.encode(wrong_type, SECRET, algorithm="HS256"))[0] == "PGRST303"


def test_postgrests_key_set_holds_the_secret_and_the_session_key(session_key) -> None:
    """The JWKS given to PostgREST: the session key's public half (ES256, its kid) and the JWT
    secret as an oct key without kid, as the CLI builds it."""
    key_set = jwks(SECRET, session_key)
    ec_key, oct_key = key_set["keys"]
    assert (ec_key["kty"], ec_key["crv"], ec_key["alg"], ec_key["kid"]) == (
        "EC", "P-256", "ES256", session_key.kid
    )  # fmt: skip
    assert "d" not in ec_key, "the private key must not be published"
    assert oct_key == {"kty": "oct", "k": oct_jwk(SECRET)["k"]}
    assert base64.urlsafe_b64decode(oct_key["k"] + "=" * (-len(oct_key["k"]) % 4)) == (
        SECRET.encode()
    )


# -- the replay's parity with PostgREST v16.2 ------------------------------------------------------


def test_jwt_claims_always_carry_the_role_the_request_runs_as() -> None:
    """request.jwt.claims holds `role`, the role the request runs as, even where the token named
    another or none (v16's PreQuery), encoded compactly with keys in order."""
    assert claims_json({"sub": "x", "role": "nobody-here"}, "anon") == (
        '{"role":"anon","sub":"x"}'
    )  # fmt: skip
    assert claims_json({"iss": "supabase-demo"}, "anon") == '{"iss":"supabase-demo","role":"anon"}'


@pytest.mark.parametrize(
    ("value", "level"),
    [("serializable", "SERIALIZABLE"), ("Repeatable Read", "REPEATABLE READ"),
     ("read committed", "READ COMMITTED"), ("read uncommitted", "READ COMMITTED"),
     (None, "READ COMMITTED")],
)  # fmt: skip
def test_isolation_levels_are_read_as_postgrest_reads_them(value, level) -> None:
    """default_transaction_isolation becomes the transaction's level: only repeatable read and
    serializable (in any case) change it from READ COMMITTED."""
    assert isolation_level(value) == level


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


# -- the documented differences between PostgREST 12.0.2 and v16.2 ---------------------------------


def _answer(status: int, code: str, message: str = "") -> Result:
    return Result(status, error=ApiError(code, message))


NO_TABLE = "Could not find the table 'public.x' in the schema cache"
NO_COLUMN = "Could not find the 'c' column of 't' in the schema cache"


@pytest.mark.parametrize(
    ("method", "v16", "v12"),
    [
        ("GET", _answer(404, "PGRST205", NO_TABLE),
         (404, "42P01", 'relation "public.x" does not exist')),
        ("POST", _answer(404, "PGRST205", NO_TABLE),
         (404, "", "")),
        ("POST", _answer(400, "PGRST204", NO_COLUMN),
         (400, "PGRST204", "Column 'c' of relation 't' does not exist")),
        ("GET", _answer(401, "PGRST303", "JWT expired"), (401, "PGRST301", "JWT expired")),
        ("GET", _answer(401, "PGRST301", "No suitable key or wrong key type"),
         (401, "PGRST301", "JWSError JWSInvalidSignature")),
        ("GET", _answer(401, "22023", 'role "x" does not exist'),
         (400, "22023", 'role "x" does not exist')),
        ("GET", _answer(500, "21000", "more than one row returned by a subquery"),
         (400, "21000", "more than one row returned by a subquery")),
        ("GET", _answer(500, "42P17", "infinite recursion"), (400, "42P17", "infinite recursion")),
        ("GET", _answer(500, "53400", "limit"), (503, "53400", "limit")),
        ("GET", _answer(500, "54001", "too complex"), (413, "54001", "too complex")),
    ],
)  # fmt: skip
def test_each_documented_difference_gives_the_older_answer(method, v16, v12) -> None:
    """differences.py turns v16.2's answer into 12.0.2's, and leaves it alone for v16.2."""
    served, applied = as_served(method, v16, parse_version("12.0.2"))
    assert (served.status, served.error.code, served.error.message) == v12
    assert len(applied) == 1
    assert as_served(method, v16, parse_version("v16.2")) == (v16, [])
    assert as_served(method, v16, None) == (v16, [])


def test_answers_no_difference_lists_pass_unchanged() -> None:
    """An answer both versions give alike (a refusal by row-level security) is not translated."""
    refusal = _answer(403, "42501", 'new row violates row-level security policy for table "x"')
    assert as_served("POST", refusal, parse_version("12.0.2")) == (refusal, [])
