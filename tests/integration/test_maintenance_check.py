"""The suspicious-maintenance check as it runs in production: an ingest worker on its
schedule (IngestSettings.maintenance_check_s) compares the maintenance records uploaded
through the API with the heartbeats the lift sent through the broker, and the record the
telemetry contradicts appears in GET /api/v1/maintenance/suspicious."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from equipment.domain.access import Role
from equipment.services import clock
from equipment.storage.tables import LiftHeartbeat
from tests import factories as f
from tests.ingest_support import encode, eventually, status_payload, status_topic

pytestmark = pytest.mark.integration
ACCEPT_LANGUAGE = "en"


async def test_the_ingest_worker_flags_a_record_its_telemetry_contradicts(
    client, consumers, publisher
) -> None:
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    admin = await f.token(Role.ADMIN)
    company_token = await f.token(Role.MAINTENANCE, company["id"])
    lift = await f.unit(owner["id"])
    today = clock.today()
    yesterday = today - timedelta(days=1)
    contract = await client.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": owner["id"],
            "maintenance_company_id": company["id"],
            "starts_on": str(today - timedelta(days=200)),
            "ends_on": str(today + timedelta(days=165)),
            "equipment_ids": [lift["id"]],
        },
        headers=await f.token(Role.USER_UNIT, owner["id"]),
    )
    assert contract.status_code == 201, contract.text
    uploaded = await client.post(
        "/api/v1/maintenance/records",
        json=[
            {
                "record_id": f"R-{lift['id']}",
                "code": lift["code"],
                "maintained_on": str(yesterday),
                "level": "half_monthly",
                "items": ["曳引机润滑", "门锁检查"],
                "technicians": [{"name": "李强", "certificate_no": "T1-4206-0001"}],
                "signed_off_by": "物业王经理",
            }
        ],
        headers=company_token,
    )
    assert uploaded.status_code in (200, 201), uploaded.text
    assert (await client.get("/api/v1/maintenance/suspicious", headers=admin)).json() == []

    # The worker checks every second here (every hour by default).
    await consumers(maintenance_check_s=1)
    # Yesterday (China time), one heartbeat a minute, all in normal service (mode 1) and
    # running: the lift never went into inspection mode, so it was not maintained.
    start = datetime.combine(yesterday, datetime.min.time(), clock.CHINA)
    for minute in range(1440):
        body = status_payload(start + timedelta(minutes=minute), total_runs=1000 + minute)
        publisher.publish(status_topic(lift["registration_code"]), encode(body))

    async def all_stored() -> bool:
        return await LiftHeartbeat.count().where(LiftHeartbeat.equipment == lift["id"]) == 1440

    await eventually(all_stored, within=60)

    async def flagged() -> list[dict]:
        answer = await client.get("/api/v1/maintenance/suspicious", headers=admin)
        return answer.json()

    await eventually(lambda: _non_empty(flagged), within=30, what="a suspicious record")
    [found] = await flagged()
    assert found["record_id"] == f"R-{lift['id']}"
    assert "never in inspection mode" in found["suspicious_reason"]


async def _non_empty(rows) -> bool:
    return bool(await rows())
