"""The special-equipment register and everything regulatory about it."""
