"""What only an auth server can show: a password sign-in issues the session the suite signs itself
where none runs, and the admin API knows every persona of the seed."""

from __future__ import annotations

import httpx
import jwt
import pytest

import harness
from transport import Reference
from transport.http import TIMEOUT, _supabase

# The claims the auth server puts in a user's access token, which transport/tokens.py gives the
# sessions it signs (docs/embedded-stack.md, "Sessions without an auth server").
GOTRUE_CLAIMS = {
    "iss", "sub", "aud", "iat", "exp", "email", "phone", "app_metadata", "user_metadata", "role",
    "aal", "amr", "session_id", "is_anonymous",
}  # fmt: skip


@pytest.fixture(scope="module")
def auth(stack: harness.Stack) -> harness.Stack:
    if not stack.auth_server:
        pytest.skip(
            f"needs the auth server (/auth/v1), which the {stack.kind} stack does not run: its "
            "users come from the seed and the suite signs their sessions itself"
        )
    return stack


def test_password_sign_in_issues_the_claims_the_suite_signs(auth, reference: Reference) -> None:
    """A real sign-in of mentor_a gives an access token with exactly the claims the suite puts in
    the sessions it signs where no auth server runs, for that user."""
    mentor = reference["mentor_a"]
    with httpx.Client(timeout=TIMEOUT) as session:
        client = _supabase(auth.api_url, auth.anon_key, session)
        signed_in = client.auth.sign_in_with_password(
            {"email": mentor.email, "password": reference.password}
        )
    claims = jwt.decode(signed_in.session.access_token, options={"verify_signature": False})
    assert set(claims) == GOTRUE_CLAIMS
    assert (claims["sub"], claims["role"], claims["aud"]) == (
        mentor.user_id, "authenticated", "authenticated"
    )  # fmt: skip


def test_admin_api_knows_every_persona_of_the_seed(auth, reference: Reference) -> None:
    """The service role's admin API finds each persona by its fixed id, with its e-mail."""
    with httpx.Client(timeout=TIMEOUT) as session:
        admin = _supabase(auth.api_url, auth.service_role_key, session).auth.admin
        for persona in reference.personas.values():
            if persona.is_user:
                assert admin.get_user_by_id(persona.user_id).user.email == persona.email
