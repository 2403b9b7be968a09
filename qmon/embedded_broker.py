"""The embedded MQTT broker (amqtt) for zero-setup runs: loopback only, never the standard port.

It enforces the same accounts and topic rules as the production Mosquitto set-up (gateway.acl). amqtt
speaks MQTT 3.1.1 only and has no shared subscriptions; nothing in qmon relies on retained messages with it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.session import Session

from gateway.acl import MqttRole, is_allowed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BrokerAccount:
    """One MQTT account: user name, password and role."""

    username: str
    password: str = field(repr=False)
    role: MqttRole = MqttRole.SITE


class _AccountAuth(BaseAuthPlugin):
    @dataclass
    class Config:
        accounts: dict[str, Any] = field(default_factory=dict)
        allow_anonymous: bool = False

    async def authenticate(self, *, session: Session) -> bool | None:
        accounts: dict[str, BrokerAccount] = self.config.accounts
        if not accounts:
            return bool(self.config.allow_anonymous)
        account = accounts.get(session.username or "")
        if account is None or session.password is None:
            return False
        return hmac.compare_digest(account.password.encode(), str(session.password).encode())


class _AccountAcl(BaseTopicPlugin):
    @dataclass
    class Config:
        accounts: dict[str, Any] = field(default_factory=dict)

    async def topic_filtering(
        self, *, session: Session | None = None, topic: str | None = None, action: Action | None = None
    ) -> bool | None:
        accounts: dict[str, BrokerAccount] = self.config.accounts
        if not accounts:
            return True
        if session is None or topic is None or action is None:
            return False
        account = accounts.get(session.username or "")
        if account is None:
            return False
        if action == Action.RECEIVE:
            return True  # delivery is governed by what the subscription was allowed to match
        verb = "publish" if action == Action.PUBLISH else "subscribe"
        return is_allowed(account.username, account.role, verb, topic)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """An amqtt broker bound to a loopback address; start() and stop() inside a running event loop."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, accounts: list[BrokerAccount] | None = None
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost") and not host.startswith("127."):
            raise ValueError("the embedded broker binds loopback addresses only")
        if port == 1883:
            raise ValueError(
                "the embedded broker does not take MQTT's standard port 1883; a real broker may hold it"
            )
        self.host = host
        self.port = port or free_port(host)
        self._accounts = {a.username: a for a in accounts or []}
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        """mqtt://host:port of this broker."""
        return f"mqtt://{self.host}:{self.port}"

    async def start(self) -> None:
        """Start listening."""
        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 2000}
            },
            "timeout_disconnect_delay": 0,
            "plugins": {
                "qmon.embedded_broker._AccountAuth": {
                    "accounts": self._accounts,
                    "allow_anonymous": not self._accounts,
                },
                "qmon.embedded_broker._AccountAcl": {"accounts": self._accounts},
            },
        }
        self._broker = Broker(config, loop=asyncio.get_running_loop())
        await self._broker.start()
        log.info("embedded MQTT broker listening on %s", self.url)

    async def stop(self) -> None:
        """Stop and close every session."""
        if self._broker is not None:
            await self._broker.shutdown()
            self._broker = None
