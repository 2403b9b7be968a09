"""Fixtures of the hub's integration tests: a migrated repository per test, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.alerts import AlertService
from cloud.processor import BatchProcessor
from cloud.rules import Policy
from cloud.storage.repository import Repository
from qmon.clock import ManualClock
from tests.support.services import MigratedTemplates
from tests.unit.cloud.builders import T0


@pytest.fixture
def clock() -> ManualClock:
    """Manual time, starting at the builders' T0 plus a minute."""
    return ManualClock(T0.timestamp() + 60)


@pytest.fixture
def sqlite_repo(tmp_path: Path, migrated_templates: MigratedTemplates) -> Iterator[Repository]:
    """A migrated repository on an SQLite file only (for tests where the database does not matter)."""
    repository = Repository.from_url(migrated_templates.sqlite_url(tmp_path))
    yield repository
    repository.close()


@pytest.fixture
def alerts(repo: Repository, clock: ManualClock) -> AlertService:
    """The alert service over `repo`."""
    return AlertService(repo, clock)


@pytest.fixture
def processor(repo: Repository, alerts: AlertService) -> Iterator[BatchProcessor]:
    """Ingest's batch processor over `repo` (no MQTT)."""
    batch_processor = BatchProcessor(repo, alerts, Policy())
    yield batch_processor
    batch_processor.close()
