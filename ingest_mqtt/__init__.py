"""The MQTT consumer: subscribe, decode, validate, batch, commit, then acknowledge."""
