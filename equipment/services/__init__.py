"""Use cases of the register: each takes plain values and owns its transaction."""
