"""A small paho subscriber/publisher for tests: waits for messages without sleeping blindly."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import paho.mqtt.client as mqtt


@dataclass(frozen=True)
class Received:
    """One message a test client received."""

    topic: str
    payload: bytes
    retain: bool


class TestClient:
    """A paho client in its own network thread that records what it receives."""

    __test__ = False  # not a pytest class

    def __init__(
        self, port: int, username: str | None = None, password: str | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.messages: list[Received] = []
        self.connect_codes: list[int] = []
        self._cond = threading.Condition()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.host, self.port = host, port

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, rc: mqtt.ReasonCode, props: object
    ) -> None:
        with self._cond:
            self.connect_codes.append(rc.value)
            self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append(Received(msg.topic, bytes(msg.payload), bool(msg.retain)))
            self._cond.notify_all()

    def start(self, timeout: float = 10.0) -> TestClient:
        """Connect and wait for the CONNACK (whatever its code)."""
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self.connect_codes, timeout)
        return self

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe and wait for the SUBACK."""
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos)
        done.wait(5)

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until it left (QoS 0) or was acknowledged (QoS 1)."""
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `count` messages arrived (or the timeout passed); return all received."""
        with self._cond:
            self._cond.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def settle(self, quiet: float = 0.5) -> list[Received]:
        """Wait until nothing new arrives for `quiet` seconds (to check that something did NOT arrive)."""
        last = -1
        while True:
            with self._cond:
                n = len(self.messages)
            if n == last:
                return list(self.messages)
            last = n
            time.sleep(quiet)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()
