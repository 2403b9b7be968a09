"""One place that turns MqttSettings into a configured paho-mqtt 2 client."""

from __future__ import annotations

import ssl
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from gateway.settings import MqttSettings


def build_client(
    settings: MqttSettings,
    default_client_id: str,
    *,
    clean_session: bool = True,
    will: tuple[str, bytes, int, bool] | None = None,
) -> mqtt.Client:
    """A paho client with credentials, TLS, protocol version, reconnect backoff and an optional last will.

    `will` is (topic, payload, qos, retain). With clean_session=False (or an MQTT 5 session that outlives
    the connection) the broker keeps the QoS 1 messages that arrive while this client is away.
    """
    client_id = settings.client_id or default_client_id or f"qmon-{uuid.uuid4().hex[:8]}"
    if settings.protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=True,
        )
    else:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=clean_session,
            reconnect_on_failure=True,
        )
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    if settings.use_tls:
        context = ssl.create_default_context(
            cafile=str(settings.tls_ca_file) if settings.tls_ca_file else None
        )
        if settings.tls_cert_file:
            context.load_cert_chain(
                str(settings.tls_cert_file), str(settings.tls_key_file or settings.tls_cert_file)
            )
        if settings.tls_insecure:
            context.check_hostname = False
        client.tls_set_context(context)
    if will is not None:
        topic, payload, qos, retain = will
        client.will_set(topic, payload, qos=qos, retain=retain)
    client.reconnect_delay_set(
        min_delay=int(max(1, settings.reconnect_min_s)), max_delay=int(settings.reconnect_max_s)
    )
    return client


def connect_properties(settings: MqttSettings, session_expiry_s: int) -> Properties | None:
    """MQTT 5 CONNECT properties (a session that outlives the connection); None for 3.1.1."""
    if settings.protocol != "5":
        return None
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = session_expiry_s
    return props
