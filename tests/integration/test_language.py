"""Chinese first: errors, validation messages and fill reasons in zh-CN unless the caller
asks for English (``Accept-Language`` or ``?lang=``), and the Chinese words users type
accepted where a code is expected."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta

import httpx
import pytest

from equipment.domain.access import Role
from sereg.app import create_app
from tests import factories as f
from tests.ingest_support import cylinder, station

pytestmark = pytest.mark.integration
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def bare(engine) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends no Accept-Language unless a test does."""
    transport = httpx.ASGITransport(app=create_app(manage_db=False))
    async with httpx.AsyncClient(transport=transport, base_url="http://sereg.test") as http:
        yield http


def chinese(text: str) -> bool:
    return bool(CHINESE.search(text))


async def test_errors_are_chinese_by_default_and_english_on_request(bare):
    admin = await f.token(Role.ADMIN)
    url = "/api/v1/equipment/987654"
    for headers, lang in (
        ({}, "zh-CN"),
        ({"Accept-Language": "zh-CN,zh;q=0.9"}, "zh-CN"),
        ({"Accept-Language": "en-GB,en;q=0.9"}, "en"),
    ):
        response = await bare.get(url, headers={**admin, **headers})
        assert response.status_code == 404
        assert response.headers["content-language"] == lang
        detail = response.json()["detail"]
        assert detail == ("设备 987654 不存在" if lang == "zh-CN" else "equipment 987654 not found")
    english = await bare.get(url + "?lang=en", headers={**admin, "Accept-Language": "zh-CN"})
    assert english.json()["detail"] == "equipment 987654 not found"

    no_token = await bare.get("/api/v1/equipment")
    assert no_token.status_code == 401 and chinese(no_token.json()["detail"])
    assert "Bearer" in no_token.json()["detail"]  # the header to send stays as it is written


async def test_validation_messages_are_said_in_the_callers_language(bare):
    admin = await f.token(Role.ADMIN)
    zh = (await bare.get("/api/v1/equipment?limit=abc", headers=admin)).json()
    assert zh["detail"].startswith("请求校验失败")
    assert zh["extra"] == [{"key": "limit", "message": "应为 `int | null`，实际为 `str`"}]
    en = (await bare.get("/api/v1/equipment?limit=abc&lang=en", headers=admin)).json()
    assert en["extra"] == [{"key": "limit", "message": "Expected `int | null`, got `str`"}]

    # A domain refusal with a field: detail and field message both translated.
    owner = await f.organisation("user_unit")
    body = f.unit_body(owner["id"], manufacture_date=str(f.today() + timedelta(days=3)))
    refused = await bare.post("/api/v1/equipment", json=body, headers=admin)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["detail"] == f"{f.today() + timedelta(days=3)} 是未来的日期"
    assert problem["extra"][0]["key"] == "manufacture_date"  # keys stay the API's names
    assert chinese(problem["extra"][0]["message"])


async def test_fill_permit_takes_the_chinese_medium_and_gives_chinese_reasons(bare):
    home = await station()
    good = await cylinder(home)
    overdue = await cylinder(home, made=date(2020, 1, 1))
    token = await f.token(Role.STATION, home["id"])
    url = "/api/v1/cylinders/{}/fill-permit?medium={}"

    allowed = (await bare.get(url.format(good["code"], "液化石油气"), headers=token)).json()
    assert (allowed["allowed"], allowed["code"], allowed["label"]) == (True, "00", "正常")
    assert allowed["medium"] == "LPG"  # stored and answered as the stable code

    refused = (await bare.get(url.format(overdue["code"], "液化石油气"), headers=token)).json()
    assert (refused["code"], refused["name"], refused["label"]) == (
        "04", "overdue_inspection", "超期未检",
    )  # fmt: skip
    reason = refused["reasons"][0]
    assert (
        reason["text"].startswith("超期未检：定期检验应于") and reason["text"] == reason["text_zh"]
    )

    english = (
        await bare.get(
            url.format(overdue["code"], "LPG"), headers={**token, "Accept-Language": "en"}
        )
    ).json()
    assert english["label"] == "overdue for periodic inspection"
    assert english["reasons"][0]["text"].startswith("overdue for periodic inspection: due")
    assert english["reasons"][0]["text_zh"] == reason["text_zh"]  # always there


async def test_chinese_conclusion_level_and_district_are_accepted(bare):
    owner = await f.organisation("user_unit")
    company = await f.organisation("maintenance_company")
    body = await f.organisation("inspection_body")
    admin = await f.token(Role.ADMIN)
    inspector = await f.token(Role.INSPECTOR, body["id"])
    installed = f.today() - timedelta(days=400)
    unit = await f.unit(
        owner["id"],
        maintenance_company_id=company["id"],
        manufacture_date=str(installed - timedelta(days=200)),
        commissioning_date=str(installed),
        registered_on=str(installed),
    )

    inspected = await bare.post(
        f"/api/v1/equipment/{unit['id']}/inspections",
        json={"kind": "periodic", "inspected_on": str(f.today()), "conclusion": "不合格"},
        headers=inspector,
    )
    assert inspected.status_code == 201, inspected.text
    assert inspected.json()["inspection"]["conclusion"] == "fail"
    unknown = await bare.post(
        f"/api/v1/equipment/{unit['id']}/inspections",
        json={"kind": "periodic", "inspected_on": str(f.today()), "conclusion": "还行"},
        headers=inspector,
    )
    assert unknown.status_code == 400 and unknown.json()["extra"][0]["key"] == "conclusion"

    contract = await bare.post(
        "/api/v1/contracts",
        json={
            "user_unit_id": owner["id"],
            "maintenance_company_id": company["id"],
            "starts_on": str(f.today() - timedelta(days=30)),
            "ends_on": str(f.today() + timedelta(days=300)),
            "equipment_ids": [unit["id"]],
        },
        headers=await f.token(Role.USER_UNIT, owner["id"]),
    )
    assert contract.status_code == 201, contract.text
    uploaded = await bare.post(
        "/api/v1/maintenance/records",
        json={
            "record_id": "R-zh-1",
            "code": unit["code"],
            "maintained_on": str(f.today() - timedelta(days=1)),
            "level": "半月",
            "items": ["门锁检查"],
            "technicians": [{"name": "李强", "certificate_no": "T1-4206-0001"}],
        },
        headers=await f.token(Role.MAINTENANCE, company["id"]),
    )
    assert uploaded.status_code == 201 and uploaded.json()["stored"] == 1, uploaded.text
    records = (await bare.get(f"/api/v1/equipment/{unit['id']}/maintenance", headers=admin)).json()
    assert records[0]["level"] == "half_monthly"

    by_code = await bare.get(f"/api/v1/equipment?district={unit['district_code']}", headers=admin)
    name = {"420602": "襄城区", "420606": "樊城区", "420607": "襄州区"}.get(unit["district_code"])
    assert name is not None, unit["district_code"]
    by_name = await bare.get(f"/api/v1/equipment?district={name}", headers=admin)
    assert by_name.status_code == 200
    assert by_name.json()["items"] == by_code.json()["items"] != []


async def test_due_exports_are_chinese_unless_english_is_asked(bare):
    admin = await f.token(Role.ADMIN)
    owner = await f.organisation("user_unit")
    await f.unit(owner["id"], commissioning_date="2016-03-31", registered_on="2016-03-31")
    chinese_csv = (await bare.get("/api/v1/due/export.csv", headers=admin)).text
    header = chinese_csv.lstrip("\ufeff").splitlines()[0].split(",")
    assert "说明" in header and "依据" in header
    english = await bare.get("/api/v1/due/export.csv", headers={**admin, "Accept-Language": "en"})
    assert "Explanation" in english.text.splitlines()[0]


async def test_due_list_and_schedule_carry_labels_beside_their_codes(bare):
    admin = await f.token(Role.ADMIN)
    owner = await f.organisation("user_unit")
    unit = await f.unit(owner["id"], commissioning_date="2016-03-31", registered_on="2016-03-31")
    zh = (await bare.get("/api/v1/due?state=overdue", headers=admin)).json()["items"]
    en = (await bare.get("/api/v1/due?state=overdue&lang=en", headers=admin)).json()["items"]
    ours = [i for i in zh if i["equipment_id"] == unit["id"]]
    assert ours, zh
    item = ours[0]
    english = next(i for i in en if i["id"] == item["id"])
    assert (item["state"], item["state_label"]) == ("overdue", "已超期")
    assert (english["state"], english["state_label"]) == ("overdue", "Overdue")
    assert (item["status"], item["status_label"]) == ("in_use", "在用")
    assert chinese(item["kind_label"]) and english["kind_label"].isascii()
    assert item["kind"] == english["kind"]  # the code never changes
    schedule = (await bare.get(f"/api/v1/equipment/{unit['id']}/schedule", headers=admin)).json()
    assert all(chinese(d["kind_label"]) for d in schedule["due"]) and schedule["due"]


def test_the_openapi_document_names_lang_and_accept_language_where_they_apply():
    spec = create_app(manage_db=False).openapi_schema.to_schema()
    for path in ("/api/v1/public/equipment/{code}", "/api/v1/due", "/api/v1/fills"):
        names = {(p["name"], p["in"]) for p in spec["paths"][path]["get"]["parameters"]}
        assert {("lang", "query"), ("Accept-Language", "header")} <= names, path
    health = spec["paths"]["/health"]["get"].get("parameters", [])
    assert "lang" not in {p["name"] for p in health}  # its answer has no words to translate


def _plain_gets(spec: dict) -> list[tuple[str, bool]]:
    """Every GET of the route table that needs no path or query value and ends (not a
    stream of events): (path, whether its answer's words depend on the language, as its
    OpenAPI entry says by naming ``lang``)."""
    found = []
    for path, item in spec["paths"].items():
        if "get" not in item or "{" in path:
            continue
        parameters = item["get"].get("parameters", [])
        content = item["get"]["responses"].get("200", {}).get("content", {})
        if any(p.get("required") for p in parameters) or "text/event-stream" in content:
            continue
        found.append((path, "lang" in {p["name"] for p in parameters}))
    return found


async def test_every_answer_says_its_language_where_the_language_chose_its_words(bare):
    admin = await f.token(Role.ADMIN)
    owner = await f.organisation("user_unit")
    await f.unit(owner["id"], commissioning_date="2016-03-31", registered_on="2016-03-31")
    gets = _plain_gets(create_app(manage_db=False).openapi_schema.to_schema())
    said = [path for path, says in gets if says]
    assert len(said) >= 10 and "/api/v1/due" in said, gets
    answered = 0
    for path, says in gets:
        for query, headers, lang in (
            ("", {"Accept-Language": "en"}, "en"),
            ("?lang=zh-CN", {"Accept-Language": "en"}, "zh-CN"),
            ("", {}, "zh-CN"),
        ):
            response = await bare.get(path + query, headers={**admin, **headers})
            if says:
                # errors said it before; now the answers do too
                assert response.headers.get("content-language") == lang, (path, query, headers)
                vary = ",".join(response.headers.get_list("vary")).lower()
                assert "accept-language" in vary, (path, response.headers)
                answered += response.status_code == 200
            elif response.status_code == 200:
                assert "content-language" not in response.headers, path  # nothing to translate
    assert answered >= 3 * 10, answered


async def test_the_rules_table_summarises_each_rule_in_the_callers_language(bare):
    zh = (await bare.get("/api/v1/rules")).json()["rules"]
    en = (await bare.get("/api/v1/rules", headers={"Accept-Language": "en"})).json()["rules"]
    assert [r["key"] for r in zh] == [r["key"] for r in en] and len(zh) > 40
    for chinese_row, english_row in zip(zh, en, strict=True):
        assert chinese(chinese_row["summary"]), chinese_row  # every summary has its Chinese
        # the English is the rule's own text (which may quote a Chinese name), not the same
        assert english_row["summary"] != chinese_row["summary"]
        assert english_row["summary"][0].isascii()
        # what is quoted as published stays the same in both
        assert chinese_row["clause"] == english_row["clause"]
        assert chinese_row["values"] == english_row["values"]
