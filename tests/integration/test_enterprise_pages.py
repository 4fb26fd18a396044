"""The enterprise client's pages on both engines: a user unit's units, reminders, applying
for a unit, suspend / resume / change of maintainer with the version it saw, contracts,
labels; the registration office's queue and organisations. Every page route denies
another organisation's objects (404), every form needs its CSRF token, and a refused form
names the field at fault in Chinese."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.domain.rules.dates import add_months
from equipment.services import clock, maintenance, register
from equipment.storage.tables import AuditEntry, Organisation
from equipment.web import enterprise_pages
from tests import factories as f

pytestmark = pytest.mark.integration


@pytest.fixture
async def world(engine):
    owner = (await f.organisation("user_unit", name="汉江小区物业"))["id"]
    other = (await f.organisation("user_unit", name="隔壁物业"))["id"]
    company = (await f.organisation("maintenance_company", name="隆中电梯工程有限公司"))["id"]
    year_ago = str(add_months(f.today(), -12))
    # Its first periodic inspection falls due this month: the user unit must apply now.
    due_soon = await f.unit(
        owner,
        maintenance_company_id=company,
        manufacture_date=str(add_months(f.today(), -20)),
        commissioning_date=year_ago,
        registered_on=year_ago,
        address="樊城区人民路<script>alert(1)</script>号",
    )
    pending = await f.unit(
        owner, registered=False, commissioning_date=str(f.today() - timedelta(60))
    )
    theirs = await f.unit(other)
    return {
        "owner": owner,
        "other": other,
        "company": company,
        "due_soon": due_soon,
        "pending": pending,
        "theirs": theirs,
    }


def error_of(html: str, field: str, prefix: str = "") -> str:
    """The error shown next to a form field."""
    match = re.search(rf'<p class="error" id="e-{prefix}{field}">([^<]*)</p>', html)
    assert match, f"no error next to {field}"
    return match.group(1)


async def test_a_user_unit_sees_its_units_with_chinese_labels_and_reminders(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    answer = await me.http.get("/ui/units")
    assert answer.status_code == 200
    html = answer.text
    assert world["due_soon"]["code"] in html and world["pending"]["code"] in html
    assert world["theirs"]["code"] not in html
    assert "在用" in html and "未办理使用登记" in html  # status labels in Chinese
    assert "待申报检验" in html and "应申报检验" in html  # the reminder (申报 one month before)
    assert "&lt;script&gt;" in html and "<script>alert" not in html  # escaped
    pending_only = await me.http.get("/ui/units?status=pending")
    assert world["pending"]["code"] in pending_only.text
    assert (
        world["due_soon"]["code"]
        not in pending_only.text.split('id="reminders"')[1].split("</section>")[1]
    )
    bad = await me.http.get("/ui/units?category_prefix=99")
    assert bad.status_code == 422 and error_of(bad.text, "category_prefix") == "未知的设备类别"
    # The same page shows a maintenance company the units it maintains, and only those.
    company = await staff(Role.MAINTENANCE, world["company"])
    maintained = (await company.http.get("/ui/units")).text
    assert world["due_soon"]["code"] in maintained and world["pending"]["code"] not in maintained
    assert world["theirs"]["code"] not in maintained
    reminders = await me.http.get("/ui/my/reminders")
    assert reminders.status_code == 200 and world["due_soon"]["code"] in reminders.text
    assert world["theirs"]["code"] not in reminders.text


async def test_the_unit_list_pages_by_keyset(staff, world, monkeypatch):
    monkeypatch.setattr(enterprise_pages, "PAGE_SIZE", 1)
    me = await staff(Role.USER_UNIT, world["owner"])
    first = await me.http.get("/ui/units")
    link = re.search(r'href="(/ui/units\?cursor=[^"]+)" rel="next"', first.text)
    assert link, "no next page"
    second = await me.http.get(link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    codes = {world["due_soon"]["code"], world["pending"]["code"]}
    assert {c for c in codes if c in first.text.split("<table>")[1]} | {
        c for c in codes if c in second.text.split("<table>")[1]
    } == codes
    assert 'rel="next"' not in second.text


async def test_another_user_units_unit_is_not_found_on_every_unit_route(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    theirs = world["theirs"]["id"]
    assert (await me.http.get(f"/ui/my/units/{theirs}")).status_code == 404
    for action in ("suspend", "resume", "maintainer"):
        answer = await me.post(
            f"/ui/my/units/{theirs}/{action}",
            {"version": "1", "suspended_from": str(f.today()), "resumed_on": str(f.today())},
        )
        assert answer.status_code == 404, action
    assert (await me.http.get(f"/ui/my/units/{world['due_soon']['id']}")).status_code == 200
    # The label sheet is the user unit's own whatever it asks for.
    labels = await me.http.get(f"/ui/labels?org={world['other']}")
    assert world["due_soon"]["code"] in labels.text and world["theirs"]["code"] not in labels.text


async def test_applying_for_a_unit_shows_field_errors_in_chinese_then_goes_pending(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    unit = world["due_soon"]["id"]
    for path in ("/ui/units/new", f"/ui/my/units/{unit}/suspend", "/ui/contracts"):
        no_token = await me.http.post(path, data={"version": "1", "suspended_from": str(f.today())})
        assert no_token.status_code == 403, path  # CSRF: refused without the form's token
    assert (await register.get_equipment(SYSTEM, unit)).status == "in_use"
    form = await me.http.get("/ui/units/new")
    assert form.status_code == 200 and "3110" in form.text and "隆中电梯工程有限公司" in form.text
    body = {
        "category": "3110",
        "district_code": "420606",
        "equipment_code": f.equipment_code(),
        "manufacture_date": "2024-03-01",
        "commissioning_date": "2024/13/01",
        "address": "樊城区长虹路8号",
        "floors": "18",
        "maintenance_company_id": str(world["company"]),
    }
    bad_date = await me.post("/ui/units/new", body)
    assert bad_date.status_code == 422
    assert error_of(bad_date.text, "commissioning_date").startswith("不是有效日期")
    assert 'value="樊城区长虹路8号"' in bad_date.text  # the form keeps what was typed
    no_floors = await me.post("/ui/units/new", {**body, "commissioning_date": "", "floors": ""})
    assert no_floors.status_code == 422
    assert "3110" in error_of(no_floors.text, "floors") and "必" in error_of(
        no_floors.text, "floors"
    )
    # A cylinder needs a parameter this form does not ask for: said above the form.
    cylinder = await me.post(
        "/ui/units/new",
        {
            **body,
            "category": "2310",
            "floors": "",
            "commissioning_date": "",
            "equipment_code": f.equipment_code("2310"),
        },
    )
    assert cylinder.status_code == 422
    assert re.search(r'id="e-other">类别 2310[^<]*必须填写 medium', cylinder.text)
    future = await me.post(
        "/ui/units/new", {**body, "commissioning_date": str(f.today() + timedelta(days=3))}
    )
    assert "未来" in error_of(future.text, "commissioning_date")
    done = await me.post("/ui/units/new", {**body, "commissioning_date": "2024-04-01"})
    assert done.status_code == 303
    unit_page = await me.http.get(done.headers["location"])
    assert "申请已提交" in unit_page.text and "未办理使用登记" in unit_page.text
    unit_id = int(done.headers["location"].split("/")[-1].split("?")[0])
    unit = await register.get_equipment(SYSTEM, unit_id)
    assert (unit.status, unit.user_unit) == ("pending", world["owner"])
    # Only a user unit applies (the office imports through the API).
    admin = await staff(Role.ADMIN)
    assert (await admin.http.get("/ui/units/new")).status_code == 403


async def test_suspend_resume_and_change_maintainer_respect_the_version(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    unit = world["due_soon"]
    path = f"/ui/my/units/{unit['id']}"
    shown = await me.http.get(path)
    version = re.search(r'name="version" value="(\d+)"', shown.text).group(1)
    # Someone else changes the unit in between: the form's version is stale.
    await register.update_equipment(
        SYSTEM,
        unit["id"],
        int(version),
        {"address": "樊城区人民路2号"},
        today=f.today(),
        now=clock.now(),
    )
    stale = await me.post(
        f"{path}/suspend",
        {"version": version, "suspended_from": str(f.today()), "notified_on": str(f.today())},
    )
    assert stale.status_code == 412 and "他人修改" in stale.text
    assert "樊城区人民路2号" in stale.text  # shown as it is now
    version = re.search(r'name="version" value="(\d+)"', stale.text).group(1)
    early = await me.post(
        f"{path}/suspend",
        {"version": version, "suspended_from": str(add_months(f.today(), -13))},
    )
    # Before the unit was in use (on the service's "on"): named by the form's own field.
    assert early.status_code == 422
    assert re.search("[\u4e00-\u9fff]", error_of(early.text, "suspended_from"))
    done = await me.post(
        f"{path}/suspend",
        {"version": version, "suspended_from": str(f.today()), "reason": "大修"},
    )
    assert done.status_code == 303
    page = await me.http.get(path)
    assert "暂停使用" in page.text and "重新启用" in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    assert (
        await me.post(f"{path}/resume", {"version": version, "resumed_on": str(f.today())})
    ).status_code == 303
    company = (await f.organisation("maintenance_company", name="汉江电梯维保"))["id"]
    page = await me.http.get(path)
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    wrong = await me.post(
        f"{path}/maintainer",
        {
            "version": version,
            "maintenance_company_id": str(world["owner"]),
            "changed_on": str(f.today()),
        },
    )
    assert wrong.status_code == 422 and error_of(wrong.text, "maintenance_company_id")
    changed = await me.post(
        f"{path}/maintainer",
        {"version": version, "maintenance_company_id": str(company), "changed_on": str(f.today())},
    )
    assert changed.status_code == 303
    assert (await register.get_equipment(SYSTEM, unit["id"])).maintenance_company == company


async def test_a_user_unit_signs_and_terminates_its_contracts(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    form = await me.http.get("/ui/contracts")
    assert form.status_code == 200 and "暂无维保合同" in form.text
    assert world["due_soon"]["code"] in form.text and world["theirs"]["code"] not in form.text
    body = {
        "maintenance_company_id": str(world["company"]),
        "starts_on": str(f.today() - timedelta(days=10)),
        "ends_on": str(f.today() + timedelta(days=355)),
        "cycle_days": "20",
    }
    no_units = await me.post("/ui/contracts", body)
    assert no_units.status_code == 422 and error_of(no_units.text, "equipment_ids") == "必填"
    # Another user unit's unit cannot be put under this one's contract.
    data = {**body, "unit_ids": [str(world["due_soon"]["id"]), str(world["theirs"]["id"])]}
    theirs = await me.http.post(
        "/ui/contracts", data={**data, "cycle_days": "15", "_csrf": me.csrf}
    )
    assert theirs.status_code == 422 and error_of(theirs.text, "equipment_ids")
    data["unit_ids"] = [str(world["due_soon"]["id"])]
    cycle = await me.http.post("/ui/contracts", data={**data, "_csrf": me.csrf})
    assert cycle.status_code == 422 and "15" in error_of(cycle.text, "cycle_days")
    signed = await me.http.post(
        "/ui/contracts", data={**data, "cycle_days": "15", "_csrf": me.csrf}
    )
    assert signed.status_code == 303
    mine = await me.http.get("/ui/contracts")
    assert "隆中电梯工程有限公司" in mine.text and "有效" in mine.text
    [contract] = await maintenance.list_contracts(SYSTEM, after_id=None, limit=10)
    them = await staff(Role.USER_UNIT, world["other"])
    assert "暂无维保合同" in (await them.http.get("/ui/contracts")).text
    assert (await them.post(f"/ui/contracts/{contract.id}/terminate")).status_code == 404
    ended = await me.post(f"/ui/contracts/{contract.id}/terminate")
    assert ended.status_code == 303
    assert "已于" in (await me.http.get("/ui/contracts")).text
    again = await me.post(f"/ui/contracts/{contract.id}/terminate")
    assert again.status_code == 409 and "终止" in again.text


async def test_labels_are_the_user_units_own(staff, world):
    me = await staff(Role.USER_UNIT, world["owner"])
    labels = await me.http.get("/ui/labels")
    assert labels.status_code == 200 and world["due_soon"]["code"] in labels.text
    assert "<svg" in labels.text
    admin = await staff(Role.ADMIN)
    assert (await admin.http.get("/ui/labels")).status_code == 404
    assert (await admin.http.get(f"/ui/labels?org={world['company']}")).status_code == 404
    theirs = await admin.http.get(f"/ui/labels?org={world['other']}")
    assert world["theirs"]["code"] in theirs.text


async def test_the_office_registers_from_the_queue_with_the_late_flag(staff, world):
    admin = await staff(Role.ADMIN)
    queue = await admin.http.get("/ui/registrations")
    assert queue.status_code == 200
    pending = world["pending"]
    assert pending["code"] in queue.text and world["due_soon"]["code"] not in queue.text
    assert "逾期：投入使用已超过 30 日" in queue.text  # in service 60 days already
    prefix = f"{pending['id']}-"
    bad = await admin.post(
        f"/ui/registrations/{pending['id']}/register",
        {"version": "1", "registration_code": "31104206", "registered_on": str(f.today())},
    )
    assert bad.status_code == 422 and error_of(bad.text, "registration_code", prefix)
    code = f.registration_code()
    done = await admin.post(
        f"/ui/registrations/{pending['id']}/register",
        {"version": "1", "registration_code": code, "registered_on": str(f.today())},
    )
    assert done.status_code == 303
    after = await admin.http.get(done.headers["location"])
    assert f"已登记：{code}" in after.text and "没有待登记的设备" in after.text
    unit = await register.get_equipment(SYSTEM, pending["id"])
    assert (unit.status, unit.late_registration) == ("in_use", True)
    again = await admin.post(
        f"/ui/registrations/{pending['id']}/register",
        {
            "version": "1",
            "registration_code": f.registration_code(),
            "registered_on": str(f.today()),
        },
    )
    assert again.status_code == 412  # the queue's version is stale: someone registered it
    missing = await admin.post(
        "/ui/registrations/999999/register",
        {"registration_code": code, "registered_on": str(f.today())},
    )
    assert missing.status_code == 404
    me = await staff(Role.USER_UNIT, world["owner"])
    assert (await me.http.get("/ui/registrations")).status_code == 403
    assert (
        await me.post(
            f"/ui/registrations/{world['pending']['id']}/register",
            {"registration_code": code, "registered_on": str(f.today())},
        )
    ).status_code == 403


async def test_the_office_lists_creates_and_edits_organisations(staff, world):
    admin = await staff(Role.ADMIN)
    for path in (
        f"/ui/registrations/{world['pending']['id']}/register",
        "/ui/organisations",
        f"/ui/organisations/{world['owner']}",
    ):
        no_token = await admin.http.post(path, data={"name": "x", "registration_code": "x"})
        assert no_token.status_code == 403, path  # CSRF: refused without the form's token
    listed = await admin.http.get("/ui/organisations?kind=user_unit")
    assert listed.status_code == 200
    assert "汉江小区物业" in listed.text and "隆中电梯工程有限公司" not in listed.text
    assert 'href="/ui/accounts"' in listed.text
    body = {
        "kind": "maintenance_company",
        "name": "襄阳安顺电梯",
        "credit_code": "91420600000000000X",
        "licence_no": "TS3342001",
        "licence_valid_until": str(f.today() + timedelta(days=300)),
    }
    bad = await admin.post("/ui/organisations", body)
    assert bad.status_code == 422 and error_of(bad.text, "credit_code")
    assert re.search("[\u4e00-\u9fff]", error_of(bad.text, "credit_code"))  # in Chinese
    no_licence = await admin.post(
        "/ui/organisations", {**body, "credit_code": f.credit_code(), "licence_no": ""}
    )
    assert no_licence.status_code == 422 and error_of(no_licence.text, "licence_no")
    made = await admin.post("/ui/organisations", {**body, "credit_code": f.credit_code()})
    assert made.status_code == 303
    path = made.headers["location"].split("?")[0]
    page = await admin.http.get(made.headers["location"])
    assert "已保存" in page.text and 'value="襄阳安顺电梯"' in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    saved = await admin.post(path, {**body, "name": "襄阳安顺电梯有限公司", "version": version})
    assert saved.status_code == 303
    stale = await admin.post(path, {**body, "name": "别的名字", "version": version})
    assert stale.status_code == 412 and "他人修改" in stale.text
    me = await staff(Role.USER_UNIT, world["owner"])
    assert (await me.http.get("/ui/organisations")).status_code == 403
    # Another organisation's page is not found; its own is not the user unit's to edit.
    assert (await me.http.get(path)).status_code == 404
    # Editing is refused before the object is looked at: a user unit may edit no one (403).
    assert (await me.post(path, {"name": "x", "version": "1"})).status_code == 403
    assert (await me.http.get(f"/ui/organisations/{world['owner']}")).status_code == 403


def form_of(html: str) -> dict[str, str]:
    """The text fields of an organisation's edit form as the page fills them in."""
    return dict(re.findall(r'<input id="f-\w+" name="(\w+)" value="([^"]*)"', html))


async def test_the_office_marks_a_user_unit_a_hazardous_chemicals_enterprise(staff, world):
    admin = await staff(Role.ADMIN)
    path = f"/ui/organisations/{world['owner']}"
    page = await admin.http.get(path)
    assert 'name="hazardous_chemicals"' in page.text and "危险化学品企业" in page.text
    assert 'id="f-hazardous_chemicals" type="checkbox" name="hazardous_chemicals" value="1">' in (
        page.text
    )  # not ticked
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    fields = form_of(page.text)
    saved = await admin.post(path, {**fields, "version": version, "hazardous_chemicals": "1"})
    assert saved.status_code == 303, saved.text
    (row,) = await Organisation.select(Organisation.hazardous_chemicals).where(
        Organisation.id == world["owner"]
    )
    assert row["hazardous_chemicals"]
    page = await admin.http.get(path)
    assert 'name="hazardous_chemicals" value="1" checked>' in page.text
    assert 'value="汉江小区物业"' in page.text  # the rest as it was
    [entry] = await AuditEntry.select(AuditEntry.after).where(
        (AuditEntry.entity == "organisation")
        & (AuditEntry.entity_id == world["owner"])
        & (AuditEntry.action == "update")
    )
    after = entry["after"] if isinstance(entry["after"], dict) else json.loads(entry["after"])
    assert after["hazardous_chemicals"] is True
    # Unticked: cleared.
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    cleared = await admin.post(path, {**form_of(page.text), "version": version})
    assert cleared.status_code == 303
    assert 'value="1" checked>' not in (await admin.http.get(path)).text
    # A maintenance company has no such box, and one cannot be created ticked.
    company = await admin.http.get(f"/ui/organisations/{world['company']}")
    assert 'name="hazardous_chemicals"' not in company.text
    body = {
        "kind": "maintenance_company",
        "name": "襄阳安顺电梯",
        "credit_code": f.credit_code(),
        "licence_no": "TS3342001",
        "licence_valid_until": str(f.today() + timedelta(days=300)),
        "hazardous_chemicals": "1",
    }
    refused = await admin.post("/ui/organisations", body)
    assert refused.status_code == 422
    assert error_of(refused.text, "hazardous_chemicals") == "只有使用单位可以是危险化学品企业"
    made = await admin.post(
        "/ui/organisations",
        {**body, "kind": "user_unit", "licence_no": "", "licence_valid_until": ""},
    )
    assert made.status_code == 303, made.text
    assert 'value="1" checked>' in (await admin.http.get(made.headers["location"])).text


async def test_the_office_refuses_from_the_queue_and_the_owner_reads_why_and_applies_again(
    staff, world
):
    pending = world["pending"]
    prefix = f"{pending['id']}-"
    admin = await staff(Role.ADMIN)
    queue = await admin.http.get("/ui/registrations")
    assert f'action="/ui/registrations/{pending["id"]}/refuse"' in queue.text
    blank = await admin.post(
        f"/ui/registrations/{pending['id']}/refuse",
        {"version": "1", "refused_on": str(f.today()), "reason": " "},
    )
    assert blank.status_code == 422
    assert error_of(blank.text, "reason", prefix) == "请填写不予登记的理由"
    assert "未能作出不予登记决定" in blank.text
    reason = "产品合格证与设备代码不符"
    done = await admin.post(
        f"/ui/registrations/{pending['id']}/refuse",
        {"version": "1", "refused_on": str(f.today()), "reason": reason},
    )
    assert done.status_code == 303, done.text
    after = await admin.http.get(done.headers["location"])
    assert f"已不予登记：{pending['code']}" in after.text and "没有待登记的设备" in after.text

    me = await staff(Role.USER_UNIT, world["owner"])
    page = await me.http.get(f"/ui/my/units/{pending['id']}")
    assert "不予登记" in page.text and reason in page.text
    assert f'action="/ui/my/units/{pending["id"]}/reapply"' in page.text
    back = await me.post(f"/ui/my/units/{pending['id']}/reapply", {"version": "2"})
    assert back.status_code == 303, back.text
    stale = await me.post(f"/ui/my/units/{pending['id']}/reapply", {"version": "2"})
    assert stale.status_code == 412
    assert pending["code"] in (await admin.http.get("/ui/registrations")).text
    unit = await register.get_equipment(SYSTEM, pending["id"])
    assert unit.status == "pending"
