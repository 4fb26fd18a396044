"""Every alarm kind a lift can raise and every severity has its words (zh-CN first)."""

from equipment.domain import labels, lift_events
from equipment.services.alarms import FILL_SEVERITY


def test_every_lift_alarm_kind_and_severity_has_a_label() -> None:
    kinds = (lift_events.KINDS - {lift_events.BACK_TO_NORMAL}) | {lift_events.OFFLINE}
    assert set(labels.ALARM_KIND) == kinds
    severities = set(lift_events.SEVERITY.values()) | set(FILL_SEVERITY.values())
    assert severities <= set(labels.ALARM_SEVERITY)
    assert labels.label(labels.ALARM_KIND, "entrapment", "zh-CN") == "困人"
