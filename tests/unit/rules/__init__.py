"""Unit tests of the periodic-inspection rules engine (equipment.domain.rules)."""
