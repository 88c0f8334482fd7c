"""The people the suite acts as, read from ``fixtures/reference/personas.json``.

The reference dataset, the pgTAP files and this suite name the same users and chapters by fixed ids.
Besides the signed-in users there are two personas without a user: ``anon`` (the anon key) and
``service_role`` (the service key, for setup only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PERSONAS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "reference" / "personas.json"


@dataclass(frozen=True)
class Persona:
    """Who a request is made as: the database role its token carries and, for a user, who."""

    name: str
    role: str
    user_id: str | None = None
    email: str | None = None
    full_name: str | None = None
    # (chapter id, member_role) pairs, member_role being 'peer_mentor' or 'coordinator'
    memberships: tuple[tuple[str, str], ...] = ()

    @property
    def is_user(self) -> bool:
        return self.user_id is not None

    def chapter_ids(self, member_role: str | None = None) -> frozenset[str]:
        """The chapters this persona belongs to, optionally only those in one member role."""
        return frozenset(c for c, r in self.memberships if member_role in (None, r))


@dataclass(frozen=True)
class Reference:
    """The reference dataset's chapters (by letter) and personas (by name), and the password."""

    chapters: dict[str, str]
    personas: dict[str, Persona]
    password: str

    def __getitem__(self, name: str) -> Persona:
        return self.personas[name]

    def chapter(self, letter: str) -> str:
        return self.chapters[letter]


ANON = Persona("anon", "anon")
SERVICE_ROLE = Persona("service_role", "service_role")


def load_reference(path: Path = PERSONAS_FILE) -> Reference:
    data = json.loads(path.read_text(encoding="utf-8"))
    chapters = {letter: c["id"] for letter, c in data["chapters"].items()}
    personas = {p.name: p for p in (ANON, SERVICE_ROLE)}
    for name, p in data["personas"].items():
        personas[name] = Persona(
            name=name,
            role="authenticated",
            user_id=p["id"],
            email=p["email"],
            full_name=p["full_name"],
            memberships=tuple((chapters[letter], role) for letter, role in p["memberships"]),
        )
    return Reference(chapters=chapters, personas=personas, password=data["password"])
