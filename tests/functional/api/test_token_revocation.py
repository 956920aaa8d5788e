"""`DELETE /v3/auth/tokens` (issue 13, item 4): 204, then the token is refused by every
replica; revocations are kept in the database until the token would have expired."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db import models
from neutrino.db.engine import Database

from .conftest import USERS, Api


@pytest.fixture
def replicas(database: Database, tmp_path: Any) -> Iterator[tuple[Api, Api]]:
    """Two servers on one database with one signing key; the second reads the revocation
    list on every request, so what it answers does not depend on timing."""
    settings = ApiSettings(state_path=str(tmp_path / "state"), users=USERS,
                           token_secret="k" * 32)
    with TestClient(create_app(build_services(database, CoreSettings(), RecordingNotifier()),
                               settings)) as one, \
            TestClient(create_app(build_services(database, CoreSettings(), RecordingNotifier()),
                                  dataclasses.replace(settings,
                                                      token_revocation_refresh=0))) as two:
        yield Api(one), Api(two)


def _revoke(api: Api, subject: str, who: str = "admin") -> Any:
    return api.call("DELETE", "/v3/auth/tokens", who, headers={"X-Subject-Token": subject})


def test_a_revoked_token_is_refused_by_every_replica(replicas: tuple[Api, Api]) -> None:
    one, two = replicas
    demo = one.tokens["demo"]
    for api in (one, two):
        assert api.client.get("/v2.0/networks", headers={"X-Auth-Token": demo}) \
            .status_code == 200
    assert _revoke(one, demo, "demo").status_code == 204
    for api in (one, two):
        response = api.client.get("/v2.0/networks", headers={"X-Auth-Token": demo})
        assert response.status_code == 401, response.text
        response = api.client.get("/v3/auth/tokens", headers={
            "X-Auth-Token": api.tokens["admin"], "X-Subject-Token": demo})
        assert response.status_code == 404
        # Nor does it buy a new token.
        response = api.client.post("/v3/auth/tokens", json={"auth": {"identity": {
            "methods": ["token"], "token": {"id": demo}}}})
        assert response.status_code == 401
    # Other tokens of the same user still work; revoking twice is "not found".
    assert one.call("GET", "/v2.0/networks", "alt").status_code == 200
    assert _revoke(two, demo).status_code == 404


def test_only_the_owner_or_an_admin_revokes(replicas: tuple[Api, Api]) -> None:
    one, _ = replicas
    assert _revoke(one, one.tokens["demo"], "alt").status_code == 403
    assert one.call("GET", "/v2.0/networks", "demo").status_code == 200
    assert _revoke(one, one.tokens["demo"], "admin").status_code == 204
    assert one.call("GET", "/v2.0/networks", "demo").status_code == 401
    assert _revoke(one, "junk").status_code == 404
    response = one.client.delete("/v3/auth/tokens", headers={"X-Subject-Token": "x"})
    assert response.status_code == 401


def test_revocations_are_pruned_once_the_token_expired(database: Database, clock: Any
                                                       ) -> None:
    service = build_services(database, CoreSettings(), RecordingNotifier(),
                             clock).token_revocations
    service.revoke("old", clock.now() + timedelta(seconds=60))
    service.revoke("old", clock.now() + timedelta(seconds=60))  # again: no error
    service.revoke("new", clock.now() + timedelta(seconds=3600))
    assert service.active() == {"old", "new"}
    clock.advance(61)
    assert service.active() == {"new"}
    service.revoke("newer", clock.now() + timedelta(seconds=3600))
    with database.session() as session:
        ids = set(session.scalars(select(models.RevokedToken.audit_id)))
        count = session.scalar(select(func.count()).select_from(models.RevokedToken))
    assert ids == {"new", "newer"} and count == 2
