"""The keys of a stack: its JWT secret, API keys, and the key its user sessions are signed with.

`supabase start` signs the anon and service_role API keys with the JWT secret (HS256), maps its
publishable and secret keys to them in the gateway, and hands PostgREST a JWKS: the secret as an
`oct` key beside the auth server's public signing keys. Recent CLIs sign user sessions with ES256.
The embedded stack has no auth server, so it keeps an EC P-256 key of its own in the stack folder
(git-ignored, made on first use, never committed), signs the suite's sessions with it, and
publishes its public half in PostgREST's JWKS, so that PostgREST verifies them as on Docker.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# The public local-development defaults of `supabase start` (its apikeys.go); nothing here is a
# secret, and nothing signed with them leaves 127.0.0.1.
LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
PUBLISHABLE_KEY = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"
SECRET_KEY = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
API_KEY_ISSUER = "supabase-demo"
API_KEY_EXPIRY = 1983812996

SESSION_KEY_FILE = "session-signing-key.pem"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def api_key(role: str, secret: str) -> str:
    """The anon or service_role key of a stack whose JWT secret is ``secret``, as the CLI signs it.

    Claims in the CLI's order, so that the default secret gives the CLI's well-known keys.
    """
    claims = {"iss": API_KEY_ISSUER, "role": role, "exp": API_KEY_EXPIRY}
    return jwt.encode(claims, secret, algorithm="HS256")


def oct_jwk(secret: str) -> dict[str, str]:
    """The JWT secret as the JWK the CLI puts in PostgREST's key set (no ``alg``, no ``kid``)."""
    return {"kty": "oct", "k": b64url(secret.encode())}


@dataclass(frozen=True)
class SessionKey:
    """An EC P-256 key that signs user sessions with ES256, as the auth server's own key does."""

    pem: str

    @classmethod
    def load_or_create(cls, folder: Path) -> SessionKey:
        path = folder / SESSION_KEY_FILE
        if not path.exists():
            folder.mkdir(parents=True, exist_ok=True)
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.touch(mode=0o600)
            path.write_bytes(pem)
        return cls(path.read_text())

    @classmethod
    def generate(cls) -> SessionKey:
        """A fresh key kept nowhere: one no stack trusts."""
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(pem.decode())

    def _public_numbers(self) -> ec.EllipticCurvePublicNumbers:
        key = serialization.load_pem_private_key(self.pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.public_key().public_numbers()

    @property
    def kid(self) -> str:
        """A key id derived from the public key (its RFC 7638 thumbprint)."""
        jwk = self.public_jwk(with_kid=False)
        canonical = json.dumps(
            {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
        )
        return b64url(hashlib.sha256(canonical.encode()).digest())

    def public_jwk(self, *, with_kid: bool = True) -> dict[str, str]:
        numbers = self._public_numbers()
        jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
            "alg": "ES256",
            "use": "sig",
            "key_ops": ["verify"],
        }
        if with_kid:
            jwk["kid"] = self.kid
        return jwk

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.pem, algorithm="ES256", headers={"kid": self.kid})


def jwks(secret: str, session_key: SessionKey | None) -> dict[str, list[dict[str, Any]]]:
    """The key set PostgREST verifies tokens with: the session key's public half, the secret."""
    keys: list[dict[str, Any]] = [session_key.public_jwk()] if session_key else []
    keys.append(oct_jwk(secret))
    return {"keys": keys}
