"""Revoked builtin identity tokens, in the database so that every server replica honours a
revocation. Rows live until the token would have expired anyway; each revocation prunes
the ones past that, so the table holds only what can still be presented."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from neutrino.core.dbutil import insert_unless_duplicate
from neutrino.core.services.base import Env
from neutrino.db import models


class TokenRevocationService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def revoke(self, audit_id: str, expires_at: datetime) -> None:
        """Record the revocation (again is a no-op) and prune expired ones."""
        now = self.env.now()

        def work(session: Session) -> None:
            session.execute(delete(models.RevokedToken)
                            .where(models.RevokedToken.expires_at <= now))
            if expires_at > now:
                insert_unless_duplicate(session, models.RevokedToken(
                    audit_id=audit_id, expires_at=expires_at, revoked_at=now))
        self.env.tx.run(work)

    def active(self) -> frozenset[str]:
        """Audit ids of revoked tokens that have not expired yet."""
        now = self.env.now()

        def work(session: Session) -> frozenset[str]:
            rows = session.scalars(select(models.RevokedToken.audit_id)
                                   .where(models.RevokedToken.expires_at > now))
            return frozenset(rows)
        return self.env.tx.read(work)
