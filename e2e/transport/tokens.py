"""Tokens as the auth server and `supabase start` issue them, signed with the stack's JWT secret.

Used where no auth server runs (the SQL replay): a signed-in persona gets an access token with the
claims the auth server puts in one, anon and service_role get the API keys' claims.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from .personas import Persona

# `supabase start`'s API keys carry these claims and never expire in practice.
API_KEY_ISSUER = "supabase-demo"
API_KEY_EXPIRY = 1983812996
# The local auth server's issuer (its URL); only informative, nothing verifies it.
AUTH_ISSUER = "http://127.0.0.1:54321/auth/v1"
ACCESS_TOKEN_LIFETIME = 3600


def api_key(role: str, secret: str) -> str:
    """The anon or service_role key of a stack whose JWT secret is ``secret``."""
    claims = {"iss": API_KEY_ISSUER, "role": role, "exp": API_KEY_EXPIRY}
    return jwt.encode(claims, secret, algorithm="HS256")


def access_token_claims(persona: Persona, *, now: int | None = None) -> dict[str, Any]:
    """The claims of an access token the auth server issues after a password sign-in."""
    if not persona.is_user:
        raise ValueError(f"{persona.name} is not a user and signs no session")
    now = int(time.time()) if now is None else now
    return {
        "iss": AUTH_ISSUER,
        "sub": persona.user_id,
        "aud": "authenticated",
        "exp": now + ACCESS_TOKEN_LIFETIME,
        "iat": now,
        "email": persona.email,
        "phone": "",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {"email_verified": True, "full_name": persona.full_name},
        "role": persona.role,
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }


def token_for(persona: Persona, secret: str) -> str:
    """The bearer token a persona's requests carry: an API key, or a user's access token."""
    if not persona.is_user:
        return api_key(persona.role, secret)
    return jwt.encode(access_token_claims(persona), secret, algorithm="HS256")


def verify(token: str, secret: str) -> dict[str, Any]:
    """The claims of an HS256 token signed with ``secret``; raises ``jwt.InvalidTokenError``.

    Only what the replay needs: signature and expiry. PostgREST checks the audience only when
    configured to, and Supabase does not configure it.
    """
    return jwt.decode(token, secret, algorithms=["HS256"], options={"verify_aud": False})
