"""Alarms reach the webhooks of those who must act, signed, retried, dead-lettered and
redelivered; the outbox is written with the alarm (issue 24, delivery)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from datetime import timedelta

import httpx
import pytest

from equipment.domain.access import SYSTEM, Role
from equipment.domain.notifications import allowance
from equipment.services import clock, notifications, notify_worker, register
from equipment.settings import NotifySettings
from equipment.storage.tables import Alarm, Notification, WebhookDelivery, WebhookEndpoint
from tests import factories as f
from tests import webhook_receiver
from tests.conftest import app_client
from tests.ingest_support import at, encode, event_payload, events_topic, eventually

pytestmark = pytest.mark.integration

FAST = NotifySettings(
    poll_s=0.05,
    backoff_base_s=0.0,
    backoff_cap_s=0.0,
    timeout_s=5,
    allow_private=webhook_receiver.ALLOW,
)


@pytest.fixture
def boot(configure):
    """The app allows the loopback receivers' URLs (refused by default)."""
    return configure(notify=NotifySettings(allow_private=webhook_receiver.ALLOW))


@pytest.fixture
def receiver():
    r = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(r)
    r.url = url  # type: ignore[attr-defined]
    yield r
    server.shutdown()


async def drain(receiver, predicate, *, what: str, s: NotifySettings = FAST, passes: int = 200):
    """Run worker passes in this process until ``predicate(receiver)`` or give up."""
    async with notify_worker.client_for(s) as http:
        for _ in range(passes):
            if predicate(receiver):
                return
            await notify_worker.work_once(http, s)
        if not predicate(receiver):
            raise AssertionError(f"{what} never happened; receiver got {receiver.got!r}")


async def endpoint(client, headers, receiver, path, **body) -> dict:
    response = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url + path, **body}, headers=headers
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    receiver.secrets[path] = answer["secret"]
    return answer


@pytest.fixture
async def world(engine, client, receiver):
    w = {
        "owner": (await f.organisation("user_unit"))["id"],
        "company": (await f.organisation("maintenance_company"))["id"],
        "other": (await f.organisation("maintenance_company"))["id"],
    }
    w["tokens"] = {
        "admin": await f.token(Role.ADMIN),
        "company": await f.token(Role.MAINTENANCE, w["company"]),
        "other": await f.token(Role.MAINTENANCE, w["other"]),
        "owner": await f.token(Role.USER_UNIT, w["owner"]),
    }
    w["unit"] = await f.unit(w["owner"], maintenance_company_id=w["company"])
    return w


async def raise_entrapment(client, w, token="owner") -> dict:
    now = clock.now()
    response = await client.post(
        f"/api/v1/equipment/{w['unit']['id']}/alarms",
        json={"kind": "entrapment", "raised_at": now.isoformat()},
        headers=w["tokens"][token],
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_alarm_raised_over_the_api_reaches_the_signed_webhooks(client, world, receiver):
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    await endpoint(client, w["tokens"]["other"], receiver, "/other")
    await endpoint(client, w["tokens"]["owner"], receiver, "/owner")
    district = w["unit"]["district_code"]
    await endpoint(client, w["tokens"]["admin"], receiver, "/desk", district_code=district)
    await endpoint(client, w["tokens"]["admin"], receiver, "/elsewhere", district_code="420683")

    alarm = await raise_entrapment(client, w)
    # Written with the alarm, before any worker ran: the outbox.
    assert await Notification.count().where(Notification.alarm == alarm["id"]) == 1

    await drain(receiver, lambda r: len(r.got) >= 3, what="three deliveries")
    by_path = {r.path: r for r in receiver.got}
    assert set(by_path) == {"/company", "/owner", "/desk"}
    for got in by_path.values():
        assert got.signed and got.status == 200
        assert got.key == got.body["id"]
        assert got.body["event"] == "alarm.raised"
        assert got.body["alarm"]["id"] == alarm["id"]
        assert got.body["alarm"]["kind"] == "entrapment"
        assert got.body["alarm"]["response_limit_minutes"] in (30, 60)
    assert len({r.key for r in receiver.got}) == 3
    states = await WebhookDelivery.select(WebhookDelivery.state)
    assert [s["state"] for s in states] == ["delivered"] * 3


async def test_a_bad_signature_is_what_the_receiver_refuses(client, world, receiver):
    """The receiver's check can fail: with the wrong secret it answers 401."""
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    receiver.secrets["/company"] = "whsec_not_the_one"
    await raise_entrapment(client, w)
    await drain(receiver, lambda r: len(r.got) >= 1, what="a delivery")
    assert not receiver.got[0].signed and receiver.got[0].status == 401


async def test_the_current_maintainer_is_told(client, world, receiver):
    """A lift handed to another company before the worker ran: the new company is told."""
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    await endpoint(client, w["tokens"]["other"], receiver, "/other")
    await raise_entrapment(client, w)
    await register.change_maintainer(
        SYSTEM,
        w["unit"]["id"],
        maintenance_company_id=w["other"],
        changed_on=f.today(),
        expected_version=None,
        today=f.today(),
        now=clock.now(),
    )
    await drain(receiver, lambda r: len(r.got) >= 1, what="a delivery")
    assert [r.path for r in receiver.got] == ["/other"]


async def test_five_failures_dead_letter_then_redelivery_on_request(client, world, receiver):
    w = world
    made = await endpoint(client, w["tokens"]["company"], receiver, "/company")
    receiver.fail_first["/company"] = 5
    await raise_entrapment(client, w)
    await drain(receiver, lambda r: len(r.got) >= 5, what="five attempts")
    hook = f"/api/v1/webhooks/{made['endpoint']['id']}"
    headers = w["tokens"]["company"]
    dead = (await client.get(f"{hook}/deliveries?state=dead", headers=headers)).json()
    assert len(dead) == 1
    assert dead[0]["attempts"] == 5 and dead[0]["last_status"] == 500
    assert dead[0]["last_error"] == "HTTP 500"
    # Dead means no more attempts, however long the worker runs.
    async with notify_worker.client_for(FAST) as http:
        for _ in range(5):
            await notify_worker.work_once(http, FAST)
    assert len(receiver.got) == 5
    assert receiver.accepted_keys() == []

    # Another organisation cannot see or redeliver it: 404, as for an unknown endpoint.
    other = w["tokens"]["other"]
    assert (await client.get(f"{hook}/deliveries", headers=other)).status_code == 404
    assert (await client.post(f"{hook}/redeliver", json={}, headers=other)).status_code == 404

    again = await client.post(
        f"{hook}/redeliver", json={"delivery_id": dead[0]["id"]}, headers=headers
    )
    assert again.status_code == 200 and again.json() == {"redelivered": 1}
    await drain(receiver, lambda r: r.accepted_keys(), what="the redelivery")
    assert receiver.accepted_keys() == [dead[0]["idempotency_key"]]
    assert {r.key for r in receiver.got} == {dead[0]["idempotency_key"]}
    delivered = (await client.get(f"{hook}/deliveries?state=delivered", headers=headers)).json()
    assert [d["id"] for d in delivered] == [dead[0]["id"]]


async def test_retries_back_off_exponentially(client, world, receiver):
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    receiver.fail_first["/company"] = 2
    await raise_entrapment(client, w)
    slow = NotifySettings(
        backoff_base_s=600, backoff_cap_s=3600, timeout_s=5, allow_private=webhook_receiver.ALLOW
    )
    async with notify_worker.client_for(slow) as http:
        before = clock.now()
        await notify_worker.work_once(http, slow)
        [row] = await WebhookDelivery.select()
        assert row["attempts"] == 1 and row["state"] == "pending"
        wait = row["next_attempt_at"] - before
        assert timedelta(seconds=600) <= wait < timedelta(seconds=660)
        # Not due yet: another pass sends nothing.
        await notify_worker.work_once(http, slow)
        assert len(receiver.got) == 1


async def test_endpoint_secrets_are_shown_once_and_scoped(client, world, receiver):
    w = world
    made = await endpoint(client, w["tokens"]["company"], receiver, "/company")
    assert made["secret"].startswith("whsec_")
    assert made["endpoint"]["organisation_id"] == w["company"]
    listing = (await client.get("/api/v1/webhooks", headers=w["tokens"]["company"])).json()
    assert [e["id"] for e in listing] == [made["endpoint"]["id"]]
    assert all("secret" not in e for e in listing)
    assert (await client.get("/api/v1/webhooks", headers=w["tokens"]["other"])).json() == []
    admin = (await client.get("/api/v1/webhooks", headers=w["tokens"]["admin"])).json()
    assert [e["id"] for e in admin] == [made["endpoint"]["id"]]
    # Naming another organisation: not found, not registered for it.
    response = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url + "/x", "organisation_id": w["company"]},
        headers=w["tokens"]["other"],
    )
    assert response.status_code == 404
    bad = await client.post(
        "/api/v1/webhooks", json={"url": "ftp://x.example/"}, headers=w["tokens"]["company"]
    )
    assert bad.status_code == 422
    gone = await client.delete(
        f"/api/v1/webhooks/{made['endpoint']['id']}", headers=w["tokens"]["company"]
    )
    assert gone.status_code == 204
    assert (await client.get("/api/v1/webhooks", headers=w["tokens"]["company"])).json() == []


async def test_an_entrapment_over_mqtt_reaches_the_company_once(
    engine, client, world, receiver, consumers, publisher
):
    """A lift publishes an entrapment (and repeats it) through the real broker and
    consumer: the outbox row is written in the ingest batch's transaction, and the
    company's receiver gets one signed delivery for the one alarm."""
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    await consumers()
    code = w["unit"]["registration_code"]
    t0 = at()
    for i in range(20):
        publisher.publish(
            events_topic(code),
            encode(event_payload("entrapment", t0 + timedelta(milliseconds=i), floor=7)),
        )

    async def all_in() -> bool:
        rows = await Alarm.select(Alarm.count).where(Alarm.equipment == w["unit"]["id"])
        return bool(rows) and rows[0]["count"] == 20

    await eventually(all_in)
    assert await Notification.count() == 1
    await drain(receiver, lambda r: len(r.got) >= 1, what="the delivery")
    [got] = receiver.got
    assert got.signed and got.status == 200
    assert got.body["alarm"]["registration_code"] == code
    assert got.body["alarm"]["severity"] == "critical"


# ------------------------------------------------- server-side request forgery (SSRF)


async def test_webhooks_to_private_addresses_are_refused_by_default(engine, world, configure):
    """Without SEREG_WEBHOOK_ALLOW_PRIVATE: loopback, private, the metadata service and a
    name resolving to loopback are refused at registration, in Chinese by default."""
    w = world
    async with app_client(configure()) as plain, app_client(configure(), language="en") as en:
        for url in (
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/",
            "https://10.1.2.3/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://0.0.0.0:8000/",
        ):
            answer = await plain.post(
                "/api/v1/webhooks", json={"url": url}, headers=w["tokens"]["company"]
            )
            assert answer.status_code == 422, (url, answer.text)
            assert "不允许" in answer.text, answer.text
        answer = await en.post(
            "/api/v1/webhooks",
            json={"url": "http://127.0.0.1/hook"},
            headers=w["tokens"]["company"],
        )
        assert answer.status_code == 422
        assert "SEREG_WEBHOOK_ALLOW_PRIVATE" in answer.text and "不允许" not in answer.text
        # A public address is registered (nothing is sent to it in this test).
        public = await plain.post(
            "/api/v1/webhooks", json={"url": "https://223.5.5.5/x"}, headers=w["tokens"]["company"]
        )
        assert public.status_code == 201, public.text
    assert await WebhookEndpoint.count() == 1


async def test_the_worker_checks_the_address_again_at_each_delivery(client, world, receiver):
    """Registered while allowed, the URL's address is refused when the worker runs without
    the allowance (as a name rebound to 127.0.0.1 after registration would be): a failed
    attempt, nothing sent, delivered once allowed."""
    w = world
    await endpoint(client, w["tokens"]["company"], receiver, "/company")
    await raise_entrapment(client, w)
    strict = NotifySettings(timeout_s=5, backoff_base_s=0.0, backoff_cap_s=0.0)
    async with notify_worker.client_for(strict) as http:
        await notify_worker.work_once(http, strict)
    [row] = await WebhookDelivery.select()
    assert row["state"] == "pending" and row["attempts"] == 1
    assert "SEREG_WEBHOOK_ALLOW_PRIVATE" in row["last_error"]
    assert receiver.got == []
    await drain(receiver, lambda r: len(r.got) >= 1, what="the delivery once allowed")
    assert receiver.got[0].signed


async def test_a_delivery_goes_to_the_address_checked_with_the_name_as_host(
    client, world, configure
):
    """The worker connects to the address it checked (no second lookup to rebind) and
    sends the URL's host name as Host."""
    w = world
    first = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0][4][0]
    got = webhook_receiver.Receiver()
    server, url = webhook_receiver.start(got, first)
    got.url = url  # type: ignore[attr-defined]
    try:
        port = server.server_address[1]
        named = f"http://localhost:{port}/named"
        allow = NotifySettings(allow_private=("localhost",))
        async with app_client(configure(notify=allow)) as http:
            made = await endpoint(http, w["tokens"]["company"], got, "/named", url=named)
        assert made["endpoint"]["url"] == named
        await raise_entrapment(client, w)
        fast = NotifySettings(timeout_s=5, allow_private=("localhost",))
        await drain(got, lambda r: len(r.got) >= 1, what="the named delivery", s=fast)
        assert got.got[0].host == f"localhost:{port}" and got.got[0].signed
    finally:
        server.shutdown()


@pytest.fixture
def localhost_cert(tmp_path):
    """A self-signed certificate for the name localhost only (no IP address in it)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_https_to_the_checked_address_still_verifies_the_name(localhost_cert):
    """Over TLS the pinned request names the URL's host in SNI, so the receiver's
    certificate (for localhost only) is verified against the name; without that the
    connection to the address would fail verification."""
    cert, key = localhost_cert
    got = webhook_receiver.Receiver(secrets={"/tls": "whsec_tls"})
    address = socket.getaddrinfo("localhost", 443, type=socket.SOCK_STREAM)[0][4][0]
    server, _ = webhook_receiver.start(got, address)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    server.socket = served.wrap_socket(server.socket, server_side=True)
    trusted = ssl.create_default_context(cafile=str(cert))
    delivery = notifications.Claimed(
        id=1,
        lease="l",
        attempts=1,
        key="k1",
        body='{"id": "k1"}',
        url=f"https://localhost:{server.server_address[1]}/tls",
        secret="whsec_tls",
    )
    try:
        async with httpx.AsyncClient(verify=trusted, timeout=10) as http:
            outcome = await notifications.post(http, delivery, allowance(["localhost"]))
            assert outcome.ok, outcome
            assert got.got[0].signed and got.got[0].host == f"localhost:{server.server_address[1]}"
            # Not allowed: nothing is sent, the attempt fails with the reason.
            refused = await notifications.post(http, delivery, allowance([]))
            assert not refused.ok and "SEREG_WEBHOOK_ALLOW_PRIVATE" in refused.error
            assert len(got.got) == 1
    finally:
        server.shutdown()
