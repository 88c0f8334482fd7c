"""Tokens as the auth server and `supabase start` issue them, and their check as PostgREST does it.

Where no auth server runs (the embedded stack, and the SQL replay anywhere), a signed-in persona
gets an access token with the claims the auth server puts in one, anon and service_role the API
keys' claims. User sessions are signed with the stack's session key (ES256, with its ``kid``), as
recent auth servers sign them, where the stack has one; otherwise with the JWT secret (HS256), which
PostgREST's key set also holds. API keys are HS256, as the CLI signs them.

``verify`` checks a token as PostgREST v16.2 does (``Auth/Jwt.hs``): three parts, a signing
algorithm other than ``none``, a key of the key set that verifies it (a token's ``kid`` only matches
a key with that ``kid``), then ``exp``, ``nbf`` and ``iat`` with 30 s of leeway; a refusal carries
PostgREST's code and message.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from harness.keys import API_KEY_EXPIRY, API_KEY_ISSUER, SessionKey, api_key, jwks

from .personas import Persona

__all__ = [
    "API_KEY_EXPIRY",
    "API_KEY_ISSUER",
    "Issuer",
    "JwtRejected",
    "access_token_claims",
    "api_key",
    "token_for",
    "verify",
]

# The local auth server's issuer (its URL); only informative, nothing verifies it.
AUTH_ISSUER = "http://127.0.0.1:54321/auth/v1"
ACCESS_TOKEN_LIFETIME = 3600
# PostgREST's allowance for clocks that differ (Auth/Jwt.hs: allowedSkewSeconds).
CLOCK_SKEW = 30
# What PostgREST v16.2 verifies (jose-jwt): HMAC, RSA PKCS#1 v1.5 and ECDSA, by key type.
KEY_TYPES = {
    "HS256": "oct", "HS384": "oct", "HS512": "oct",
    "RS256": "RSA", "RS384": "RSA", "RS512": "RSA",
    "ES256": "EC", "ES384": "EC", "ES512": "EC",
}  # fmt: skip


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


@dataclass(frozen=True)
class Issuer:
    """Signs what a stack's auth server and CLI would: API keys, and user sessions."""

    secret: str
    session_key: SessionKey | None = None

    def api_key(self, role: str) -> str:
        return api_key(role, self.secret)

    def sign_session(self, claims: dict[str, Any]) -> str:
        if self.session_key is not None:
            return self.session_key.sign(claims)
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def token_for(self, persona: Persona) -> str:
        """The bearer token a persona's requests carry: an API key, or a user's access token."""
        if not persona.is_user:
            return self.api_key(persona.role)
        return self.sign_session(access_token_claims(persona))

    @property
    def jwks(self) -> dict:
        """The key set that verifies what this issuer signs (PostgREST's, on the same stack)."""
        return jwks(self.secret, self.session_key)


def token_for(persona: Persona, secret: str, session_key: SessionKey | None = None) -> str:
    """The bearer token of ``persona`` on a stack with JWT secret ``secret`` (and session key)."""
    return Issuer(secret, session_key).token_for(persona)


class JwtRejected(Exception):
    """A token PostgREST refuses: its code (PGRST301 or PGRST303), message and details."""

    def __init__(self, code: str, message: str, details: str | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


def verify(token: str, key_set: dict | str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of ``token`` if PostgREST v16.2 accepts it with ``key_set`` (a JWKS, or a bare
    JWT secret as its one ``oct`` key); else ``JwtRejected`` with PostgREST's code and message."""
    if isinstance(key_set, str):
        key_set = jwks(key_set, None)
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtRejected("PGRST301", f"Expected 3 parts in JWT; got {len(parts)}")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise JwtRejected("PGRST301", "JWT cryptographic operation failed") from None
    alg = header.get("alg")
    if alg not in KEY_TYPES:
        details = (
            "JWT is unsecured but expected 'alg' was not 'none'"
            if str(alg).lower() == "none"
            else None
        )
        raise JwtRejected("PGRST301", "Wrong or unsupported encoding algorithm", details)
    claims = None
    for jwk in key_set["keys"]:
        if jwk.get("kty") != KEY_TYPES[alg] or jwk.get("alg", alg) != alg:
            continue
        if "kid" in header and jwk.get("kid") != header["kid"]:
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=alg).key
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": False, "verify_iss": False},
            )  # fmt: skip
            break
        except (jwt.InvalidSignatureError, jwt.InvalidKeyError, jwt.PyJWKError):
            continue
        except jwt.DecodeError:
            raise JwtRejected("PGRST301", "JWT cryptographic operation failed") from None
    if claims is None:
        raise JwtRejected(
            "PGRST301",
            "No suitable key or wrong key type",
            "None of the keys was able to decode the JWT",
        )
    _check_times(claims, time.time() if now is None else now)
    return claims


def _check_times(claims: dict[str, Any], now: float) -> None:
    for claim, late, message in (
        ("exp", lambda t: now - CLOCK_SKEW > t, "JWT expired"),
        ("nbf", lambda t: now + CLOCK_SKEW < t, "JWT not yet valid"),
        ("iat", lambda t: now + CLOCK_SKEW < t, "JWT issued at future"),
    ):
        if claim not in claims:
            continue
        value = claims[claim]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise JwtRejected("PGRST303", f"The JWT '{claim}' claim must be a number")
        if late(value):
            raise JwtRejected("PGRST303", message)
