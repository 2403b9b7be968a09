"""Commands from the hub to the sites: the port the hub's services send through, and its MQTT adapter.

The hub publishes a site's commands on `qmon/v1/sites/{site_id}/commands` (QoS 1, not retained) with its
own MQTT account, over a connection of its own (client id `<hub client id>-commands`), separate from
ingest's persistent session. paho reconnects by itself; a command handed over while the connection is down
is kept by paho and sent after the reconnect (a late answer is then dropped by the hub if it is too late).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import paho.mqtt.client as mqtt

from cloud.receiver import DEFAULT_CLIENT_ID
from gateway.mqtt_client import build_client
from gateway.protocol import Channel, CommandMessage, encode_message, topic_for
from gateway.settings import MqttSettings

log = logging.getLogger(__name__)

CLIENT_ID_SUFFIX = "-commands"


class CommandSender(Protocol):
    """Where the hub's services hand commands for the sites."""

    def start(self) -> None:
        """Connect in the background; returns at once."""
        ...

    def stop(self) -> None:
        """Disconnect."""
        ...

    def send(self, command: CommandMessage) -> bool:
        """Hand a command over for delivery (QoS 1, not retained); False if it cannot be sent at all."""
        ...


class MqttCommandPublisher:
    """The CommandSender over paho-mqtt 2, on its own network thread."""

    def __init__(self, settings: MqttSettings) -> None:
        client_id = f"{settings.client_id or DEFAULT_CLIENT_ID}{CLIENT_ID_SUFFIX}"
        self._settings = settings.model_copy(update={"client_id": client_id})
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._stopping = False
        self.sent = 0

    @property
    def client_id(self) -> str:
        """This connection's MQTT client id."""
        return str(self._settings.client_id)

    @property
    def connected(self) -> bool:
        """True while connected to the broker."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected (or the timeout)."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        """Connect in the background (paho retries with backoff until the broker answers)."""
        if self._client is not None:
            raise RuntimeError("command publisher already started")
        self._stopping = False
        settings = self._settings
        client = build_client(settings, self.client_id)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.connect_async(settings.host, settings.port, settings.keepalive_s)
        client.loop_start()
        self._client = client

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._stopping = True
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()
        self._connected.clear()

    def send(self, command: CommandMessage) -> bool:
        """Publish a command on its site's commands topic (QoS 1, not retained)."""
        client = self._client
        if client is None:
            return False
        topic = topic_for(command.site_id, Channel.COMMANDS)
        info = client.publish(topic, encode_message(command), qos=1, retain=False)
        # NO_CONN: paho keeps the QoS 1 message and sends it after the reconnect.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("hub commands: paho refused command %s: %s", command.command_id, info.rc)
            return False
        self.sent += 1
        return True

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("hub commands: broker refused the connection: %s", reason)
            return
        self._connected.set()
        log.info("hub commands connected as %s", self.client_id)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self._connected.clear()
        if not self._stopping:
            log.warning("hub commands disconnected: %s (paho reconnects)", reason)
