"""Who is asking: the caller's identity as core needs it for visibility and ownership."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Context:
    user_id: str | None = None
    project_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    is_admin: bool = False

    @classmethod
    def admin(cls) -> Context:
        """The server's own context (RPC handlers, the HA monitor)."""
        return cls(user_id=None, project_id=None, roles=("admin",), is_admin=True)
