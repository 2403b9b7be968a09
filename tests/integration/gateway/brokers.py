"""One handle over both brokers, for tests that start and stop a broker on a port chosen in advance."""

from __future__ import annotations

from typing import Protocol

from qmon.embedded_broker import EmbeddedBroker
from tests.support.services import MosquittoFactory, MosquittoInstance


class BrokerHandle(Protocol):
    """A broker on a fixed loopback port that can be (re)started and stopped."""

    port: int

    @property
    def url(self) -> str: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class MosquittoHandle:
    """A private Mosquitto from the test's factory."""

    def __init__(self, factory: MosquittoFactory, port: int) -> None:
        self.factory = factory
        self.port = port
        self.instance: MosquittoInstance | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.instance = self.factory.start(port=self.port)

    async def stop(self) -> None:
        if self.instance is not None:
            self.instance.stop()


class AmqttHandle:
    """The embedded amqtt broker, run on the test's event loop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.broker: EmbeddedBroker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.broker = EmbeddedBroker(port=self.port)
        await self.broker.start()

    async def stop(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
            self.broker = None
