"""The qmon cloud hub: MQTT ingest, violation rules, alerts and their workflow, REST API and SSE."""
