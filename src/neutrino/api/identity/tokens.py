"""Users from configuration and the tokens issued to them: signed (HS256), expiring JWTs.

Tokens are self-contained, so any server replica holding the same key validates them
without shared state; the key is `token_secret` or a random key created once in
`<state_path>/identity.key` (mode 0600) and reused.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from neutrino.conf.settings import ApiSettings, IdentityUser

DEFAULT_DOMAIN_ID = "default"
DEFAULT_DOMAIN_NAME = "Default"
_NAMESPACE = uuid.UUID("6c9f6a1e-5d8e-4c1c-9a57-7c0f3b1c2d4e")
# Keystone's implied roles: admin implies member implies reader.
_IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}
# Tokens whose signature one process remembers having verified (about a kilobyte each).
VERIFIED_TOKENS = 1024
_DEFAULT_USERS = (
    IdentityUser("admin", "adminpassword", "admin", "admin"),
    IdentityUser("demo", "demopassword", "demo", "member"),
)


def stable_id(kind: str, name: str) -> str:
    """Keystone-style 32-hex id, the same on every replica for the same name."""
    return uuid.uuid5(_NAMESPACE, f"{kind}:{name}").hex


@dataclass(frozen=True)
class Project:
    id: str
    name: str


@dataclass(frozen=True)
class User:
    id: str
    name: str
    password: str
    project: Project
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Token:
    id: str
    user: User
    project: Project | None
    roles: tuple[str, ...]
    issued_at: int
    expires_at: int
    audit_id: str
    methods: tuple[str, ...]


class InvalidCredentials(Exception):
    """Wrong user, password, project or token: a 401, whichever it was."""


def load_key(settings: ApiSettings) -> bytes:
    if settings.token_secret:
        return settings.token_secret.encode()
    path = Path(settings.state_path) / "identity.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two workers starting together create it once; the loser reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_bytes().strip()
            if key:
                return key
            time.sleep(0.02)  # the creator is still writing
        raise RuntimeError(f"{path} is empty") from None
    key = secrets.token_hex(32).encode()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


class Identity:
    """Authenticates users and issues/validates their tokens. No I/O after construction."""

    def __init__(self, users: tuple[IdentityUser, ...], key: bytes, expiration: int,
                 now: Callable[[], float] = time.time,
                 revoked: Callable[[str], bool] = lambda audit_id: False) -> None:
        self._key = key
        # Whether a token (by audit id) was revoked; an in-memory lookup, never I/O.
        self._revoked = revoked
        self._expiration = expiration
        self._now = now
        # Token string -> its claims, once its signature was verified; bounded, oldest out.
        self._verified: dict[str, dict[str, Any]] = {}
        self._verified_lock = threading.Lock()
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        for entry in users or _DEFAULT_USERS:
            project = self.projects.setdefault(
                entry.project, Project(stable_id("project", entry.project), entry.project))
            roles = (entry.role, *_IMPLIED.get(entry.role, ()))
            self.users[entry.name] = User(stable_id("user", entry.name), entry.name,
                                          entry.password, project, roles)

    # --- lookups -------------------------------------------------------------------

    def user(self, name: str | None = None, user_id: str | None = None) -> User | None:
        if name is not None:
            found = self.users.get(name)
            return found if found and (user_id is None or found.id == user_id) else None
        return next((u for u in self.users.values() if u.id == user_id), None)

    def project(self, name: str | None = None, project_id: str | None = None
                ) -> Project | None:
        for project in self.projects.values():
            if (name is None or project.name == name) and \
                    (project_id is None or project.id == project_id):
                return project
        return None

    # --- issuing -------------------------------------------------------------------

    def check_password(self, user: User | None, password: object) -> User:
        if user is None or not isinstance(password, str) or \
                not secrets.compare_digest(user.password.encode(), password.encode()):
            raise InvalidCredentials()
        return user

    def issue(self, user: User, project: Project | None, methods: tuple[str, ...],
              expires_at: int | None = None) -> Token:
        if project is not None and project.id != user.project.id:
            raise InvalidCredentials()  # users have a role on their own project only
        now = int(self._now())
        expires = min(expires_at, now + self._expiration) if expires_at else \
            now + self._expiration
        audit_id = secrets.token_urlsafe(16)
        claims = {"sub": user.id, "prj": project.id if project else None,
                  "iat": now, "exp": expires, "jti": audit_id, "mth": list(methods)}
        token_id = jwt.encode(claims, self._key, algorithm="HS256")
        roles = user.roles if project else ()
        return Token(token_id, user, project, roles, now, expires, audit_id, methods)

    def _verified_claims(self, token_id: str) -> dict[str, Any]:
        """The claims of a token signed with our key. A token's signature is checked once
        (PyJWT takes ~30 us, the rest of `validate` ~2 us) and its claims kept: they are
        what the string says, so no other process can know better. What can change
        (expiry, revocation, the user and project) `validate` checks every time."""
        claims = self._verified.get(token_id)
        if claims is not None:
            return claims
        try:
            # Expiry is checked against our clock by `validate`, not PyJWT's.
            claims = jwt.decode(token_id, self._key, algorithms=["HS256"],
                                options={"require": ["exp", "iat", "sub"],
                                         "verify_exp": False, "verify_iat": False})
        except jwt.PyJWTError:
            raise InvalidCredentials() from None
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_TOKENS:
                del self._verified[next(iter(self._verified))]  # the oldest
            self._verified[token_id] = claims
        return claims

    def validate(self, token_id: str | None) -> Token:
        if not token_id:
            raise InvalidCredentials()
        claims = self._verified_claims(token_id)
        if not isinstance(claims["exp"], int) or claims["exp"] <= self._now():
            raise InvalidCredentials()
        if self._revoked(str(claims.get("jti", ""))):
            raise InvalidCredentials()
        # The user or its project may have left the configuration since.
        user = self.user(user_id=claims["sub"])
        if user is None:
            raise InvalidCredentials()
        project = None
        if claims.get("prj"):
            project = self.project(project_id=claims["prj"])
            if project is None or project.id != user.project.id:
                raise InvalidCredentials()
        return Token(token_id, user, project, user.roles if project else (),
                     int(claims["iat"]), int(claims["exp"]), str(claims.get("jti", "")),
                     tuple(claims.get("mth") or ("password",)))
