"""HTTP handlers for webhook endpoints, their deliveries and dead letters."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, PathParameter, QueryParameter

from equipment.api import api_docs, schemas
from equipment.api.controllers import Limit, page_limit
from equipment.domain import notifications as notification_rules
from equipment.domain.access import Principal
from equipment.services import clock, notifications
from equipment.settings import Settings
from equipment.storage.notifications import DeliveryRecord, PublicEndpoint

EndpointId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]


def _endpoint(row: PublicEndpoint) -> schemas.Webhook:
    return schemas.Webhook(
        id=row.id,
        url=row.url,
        organisation_id=row.organisation,
        tier=row.tier,
        district_code=row.district_code,
        label=row.label,
        created_at=row.created_at,
        alarms=row.alarms,
        changes=row.changes,
    )


def _delivery(row: DeliveryRecord) -> schemas.WebhookDelivery:
    return schemas.WebhookDelivery(
        id=row.id,
        notification_id=row.notification,
        idempotency_key=row.idempotency_key,
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        last_status=row.last_status,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        change_id=row.change,
    )


class WebhookController(Controller):
    path = "/webhooks"
    tags = ("webhooks",)

    @post("/", responses=api_docs.WRITE)
    async def create(
        self,
        principal: NamedDependency[Principal],
        data: JSONBody[schemas.WebhookCreate],
        settings: NamedDependency[Settings],
    ) -> Response[schemas.NewWebhook]:
        """Register an endpoint; the answer holds its signing secret, shown only now."""
        row = await notifications.create_endpoint(
            principal,
            url=data.url,
            organisation_id=data.organisation_id,
            tier=data.tier,
            district_code=data.district_code,
            label=data.label,
            now=clock.now(),
            allow=notification_rules.allowance(settings.notify.allow_private),
            alarms=data.alarms,
            changes=data.changes,
        )
        return Response(schemas.NewWebhook(row.secret, _endpoint(row)), status_code=201)

    @get("/", responses=api_docs.READ)
    async def list_(self, principal: NamedDependency[Principal]) -> list[schemas.Webhook]:
        return [_endpoint(r) for r in await notifications.list_endpoints(principal)]

    @get("/{endpoint_id:int}", responses=api_docs.READ_ONE)
    async def read(
        self, principal: NamedDependency[Principal], endpoint_id: EndpointId
    ) -> schemas.Webhook:
        return _endpoint(await notifications.get_endpoint(principal, endpoint_id))

    @delete("/{endpoint_id:int}", responses=api_docs.READ_ONE)
    async def remove(self, principal: NamedDependency[Principal], endpoint_id: EndpointId) -> None:
        await notifications.delete_endpoint(principal, endpoint_id, now=clock.now())

    @get("/{endpoint_id:int}/deliveries", responses=api_docs.READ_ONE)
    async def deliveries(
        self,
        principal: NamedDependency[Principal],
        endpoint_id: EndpointId,
        delivery_state: Annotated[
            Literal["pending", "delivered", "dead"] | None, QueryParameter(name="state")
        ] = None,
        limit: Limit = None,
    ) -> list[schemas.WebhookDelivery]:
        """The endpoint's deliveries, newest first; ``state=dead``: its dead-letter list."""
        rows = await notifications.list_deliveries(
            principal, endpoint_id, state=delivery_state, limit=page_limit(limit)
        )
        return [_delivery(r) for r in rows]

    @post("/{endpoint_id:int}/redeliver", status_code=200, responses=api_docs.WRITE)
    async def redeliver(
        self,
        principal: NamedDependency[Principal],
        endpoint_id: EndpointId,
        data: JSONBody[schemas.Redeliver],
    ) -> schemas.Redelivered:
        """Queue dead deliveries again: the one named (``delivery_id``) or, with ``{}``,
        every dead delivery of the endpoint. Same key, same body."""
        count = await notifications.redeliver(
            principal, endpoint_id, delivery_id=data.delivery_id, now=clock.now()
        )
        return schemas.Redelivered(count)
