"""Shared fixtures: private brokers, databases and files for every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cloud.storage.repository import Repository
from gateway.acl import MqttRole
from qmon.embedded_broker import BrokerAccount, EmbeddedBroker
from tests.support.services import MigratedTemplates, MosquittoFactory, MosquittoInstance, postgres_database


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--ble-adapter", default=None, help="run the hardware tests on this BlueZ adapter (e.g. hci0)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--ble-adapter"):
        return
    skip = pytest.mark.skip(reason="hardware test: pass --ble-adapter hci0 to run it")
    for item in items:
        if "ble_adapter" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def mosquitto_factory(tmp_path: Path) -> Iterator[MosquittoFactory]:
    """Start private Mosquitto brokers; all are stopped after the test."""
    factory = MosquittoFactory(tmp_path)
    yield factory
    factory.close()


@pytest.fixture
def mosquitto(mosquitto_factory: MosquittoFactory) -> MosquittoInstance:
    """A private anonymous Mosquitto on a free loopback port."""
    return mosquitto_factory.start()


@pytest.fixture
async def embedded_broker() -> AsyncIterator[EmbeddedBroker]:
    """The embedded amqtt broker on a free loopback port, anonymous."""
    broker = EmbeddedBroker()
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
async def embedded_broker_with_accounts() -> AsyncIterator[EmbeddedBroker]:
    """The embedded broker with a hub account ('hub'/'hub-secret') and two sites ('site-a', 'site-b')."""
    broker = EmbeddedBroker(
        accounts=[
            BrokerAccount("hub", "hub-secret", MqttRole.HUB),
            BrokerAccount("site-a", "site-a-secret", MqttRole.SITE),
            BrokerAccount("site-b", "site-b-secret", MqttRole.SITE),
        ]
    )
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database (created, then dropped); its SQLAlchemy URL."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on the embedded SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    """Databases migrated once per session, copied for each test (see MigratedTemplates)."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("migrated"))
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", "postgres"])
def migrated_database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: MigratedTemplates
) -> Iterator[str]:
    """Like database_url, but already migrated to the head revision."""
    if request.param == "sqlite":
        yield migrated_templates.sqlite_url(tmp_path)
    else:
        with migrated_templates.postgres_url() as url:
            yield url


@pytest.fixture
def repo(migrated_database_url: str) -> Iterator[Repository]:
    """A migrated repository on SQLite and on PostgreSQL (two runs of each test)."""
    repository = Repository.from_url(migrated_database_url)
    yield repository
    repository.close()
