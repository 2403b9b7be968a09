"""The site's link to the cloud: wire protocol, durable outbox, MQTT uplink, device identity."""
