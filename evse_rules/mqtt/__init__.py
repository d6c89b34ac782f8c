"""MQTT: the broker link, state out, commands in and Home Assistant discovery (docs/mqtt.md).

The mqtt inputs live with the other inputs (evse_rules/inputs/mqtt.py) and use the link
from here; the rest is `MqttService`, a face of the running engine like the HTTP API: it
reads `EngineFace.view()` and hands every command to `EngineFace.command`.
"""
