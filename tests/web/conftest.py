"""An API on a fresh SQLite registry, with one key per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carrierguard.auth import Role, issue_key
from carrierguard.config import Settings
from carrierguard.store.engine import migrate
from carrierguard.web.app import build_service, create_app


@dataclass
class Api:
    client: TestClient
    keys: dict[Role, str]

    def headers(self, role: Role, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}", **extra}


def make_api(db_url: str, **settings_overrides: Any) -> Api:
    settings = Settings(db_url=db_url, data_key=bytes(range(32)), **settings_overrides)
    service = build_service(settings)
    migrate(service.registry.engine)
    keys = {}
    with service.registry.write() as tx:
        for role in Role:
            issued = issue_key()
            tx.insert_api_key(
                name=f"test-{role.value}",
                role=role.value,
                prefix=issued.prefix,
                secret_hash=issued.secret_hash,
                now=datetime.now(UTC),
            )
            keys[role] = issued.token
    return Api(TestClient(create_app(settings, service=service)), keys)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield make_api(f"sqlite:///{tmp_path / 'api.db'}")
