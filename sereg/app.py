"""The web app: the Litestar app from a bootstrap's parts (sereg.bootstrap)."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Response, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.plugins.prometheus import PrometheusController
from litestar.template.config import TemplateConfig

from equipment.api import (
    api_docs,
    call_controllers,
    campaign_controllers,
    change_controllers,
    check_controllers,
    controllers,
    draw_controllers,
    emergency_controllers,
    export_worker,
    geo_controllers,
    hazard_controllers,
    import_controllers,
    ingest_controllers,
    inspection_feed_controllers,
    maintenance_controllers,
    map_controllers,
    notification_controllers,
    public_controllers,
    risk_controllers,
    stream_controllers,
)
from equipment.api.auth import authenticate, require_token
from equipment.api.bodies import JSON_MAX_BYTES, SeregRequest
from equipment.api.errors import EXCEPTION_HANDLERS
from equipment.api.language import DEPENDENCIES as LANGUAGE
from equipment.i18n import LANGUAGES, spoken
from equipment.services.alarm_feed import AlarmFeed
from equipment.storage import db
from equipment.web import (
    TEMPLATES,
    alarm_pages,
    call_pages,
    campaign_pages,
    check_pages,
    cleanup_pages,
    draw_pages,
    enterprise_pages,
    inspector_pages,
    maint_pages,
    map_pages,
    station_pages,
    templating,
)
from equipment.web.public_pages import public_pages
from equipment.web.staff import entry_pages, staff_router, staff_static
from sereg.observability import RequestMiddleware, watch_event_loop

if TYPE_CHECKING:
    from ingest_mqtt.consumer import Consumer
    from sereg.bootstrap import Bootstrap
from equipment.settings import PublicSettings, Settings


@get("/health", tags=["operations"])
async def health() -> dict[str, str]:
    """Liveness: the process answers (it checks nothing else, so a database outage does not
    get every API replica restarted)."""
    return {"status": "ok"}


@get(
    "/ready",
    tags=["operations"],
    responses={503: ResponseSpec(dict[str, Any], description="Not ready: see the reasons")},
)
async def ready(state: State) -> Response[dict[str, object]]:
    """Readiness: the database answers and every migration is applied (503 otherwise).
    With the ingest consumer in this process (``serve --ingest``), ``ingest_subscribed``
    says whether the broker granted its subscriptions yet (it does not gate readiness:
    the API serves without the broker)."""
    answer: dict[str, object] = await db.readiness()
    if state.consumers:
        answer["ingest_subscribed"] = all(c.link.counters.subscribed for c, _ in state.consumers)
    return Response(answer, status_code=200 if answer["ready"] else 503)


class Metrics(PrometheusController):
    """Prometheus metrics: requests, latency and errors by route (``group_path``)."""

    include_in_schema = False


def create_app(
    boot: Bootstrap | None = None, *, manage_db: bool = True, settle: bool = False
) -> Litestar:
    """The app from ``boot``'s settings and policies (the environment's when None);
    ``manage_db=False`` leaves the engine's pool to the caller (tests). ``settle`` (a
    server's process, sereg/asgi.py) compiles every template at startup and then freezes
    everything built so far out of the garbage collector's reach (``settle_down`` below)."""
    if boot is None:
        from sereg.bootstrap import bootstrap

        boot = bootstrap()
    parts = boot
    settings = boot.settings

    def provide_settings() -> Settings:
        return settings

    def provide_public_settings() -> PublicSettings:
        return settings.public

    consumers: list[tuple[Consumer, asyncio.Task[None]]] = []
    watchers: list[asyncio.Task[None]] = []
    # The live alarm feed of this process: it starts listening with the first stream.
    feed = AlarmFeed(settings.stream)

    async def start() -> None:
        # Handlers run with this app's policies even when tests built other bootstraps.
        parts.install()
        await parts.start_engine()
        watchers.append(asyncio.create_task(watch_event_loop()))
        if settings.ingest.in_process:
            consumer = parts.consumer()
            consumers.append((consumer, asyncio.create_task(consumer.run())))

    pages = templating.environment(TEMPLATES)

    async def settle_down() -> None:
        # After the last startup hook: the templates (compiled once per language, ~15,000
        # objects that live as long as the process) and what startup built would otherwise
        # stay in the collector's generations, and every full collection walked them: a
        # pause of 2-6 ms on the requests in flight (measured). Frozen, they are not walked.
        # The catalogues' message index too (spoken.prepare): built on first use, it made a
        # new worker's first due-list page take 102 ms instead of 2-5 (measured).
        templating.compile_all(pages)
        for lang in LANGUAGES:
            spoken.prepare(lang)
        gc.collect()
        gc.freeze()

    async def stop() -> None:
        for watcher in watchers:
            watcher.cancel()
        for consumer, task in consumers:
            consumer.stop()
            await task
        await parts.stop_engine()

    # Two routers on one path: only the first asks for a token, so only its operations
    # carry the bearer requirement in the OpenAPI document (Swagger's padlocks).
    api = Router(
        path="/api/v1",
        security=api_docs.BEARER_REQUIRED,
        route_handlers=[
            controllers.OrganisationController,
            controllers.EquipmentController,
            controllers.InspectionController,
            controllers.DueController,
            controllers.reminders,
            maintenance_controllers.ContractController,
            maintenance_controllers.MaintenanceController,
            maintenance_controllers.maintenance_records,
            maintenance_controllers.raise_alarm,
            maintenance_controllers.AlarmController,
            stream_controllers.alarm_stream,
            ingest_controllers.CylinderController,
            ingest_controllers.FillController,
            ingest_controllers.JointFillingController,
            ingest_controllers.EntrustmentController,
            ingest_controllers.lift_live_state,
            ingest_controllers.DeadLetterController,
            geo_controllers.AreaController,
            geo_controllers.GeoController,
            map_controllers.MapController,
            controllers.TokenController,
            notification_controllers.WebhookController,
            call_controllers.take_call,
            call_controllers.alarm_timeline,
            emergency_controllers.response_kpis,
            emergency_controllers.record_drill,
            emergency_controllers.missing_drills,
            emergency_controllers.record_outcome,
            emergency_controllers.get_outcome,
            controllers.me,
            public_controllers.QrController,
            public_controllers.label_sheet,
            public_controllers.CitizenReportController,
            hazard_controllers.HazardController,
            import_controllers.ImportController,
            risk_controllers.RiskController,
            draw_controllers.CreditController,
            draw_controllers.DrawController,
            check_controllers.CheckController,
            check_controllers.RoutineController,
            campaign_controllers.CampaignController,
            campaign_controllers.LicenceController,
            change_controllers.change_feed,
            inspection_feed_controllers.InspectionFeedController,
        ],
        dependencies={"principal": Provide(authenticate)},
        # The token is checked before any body is read (a hook, not a guard: Litestar copies
        # the route handler for every guard call); bodies are capped per route. No handler
        # below may set a before_request of its own: it would replace this one.
        before_request=require_token,
        request_class=SeregRequest,
        request_max_body_size=JSON_MAX_BYTES,
    )
    public = Router(
        path="/api/v1",
        route_handlers=[
            public_controllers.public_equipment,
            controllers.categories,
            controllers.inspection_rules,
            draw_controllers.public_plans,
            draw_controllers.public_plan,
        ],
    )
    return Litestar(
        state=State(
            {
                "consumers": consumers,
                "settings": settings,
                "alarm_feed": feed,
                "map_settings": settings.map,
            }
        ),
        route_handlers=[
            api,
            public,
            public_pages,
            entry_pages,
            # The staff pages (/ui/...): add each page's handler or Controller here, one a
            # line (equipment/web/staff.py says how a page is written).
            staff_router(
                [
                    *map_pages.MAP_PAGES,
                    *alarm_pages.ALARM_PAGES,
                    *call_pages.CALL_PAGES,
                    *cleanup_pages.CLEANUP_PAGES,
                    *inspector_pages.INSPECTOR_PAGES,
                    *maint_pages.PAGES,
                    *station_pages.PAGES,
                    *enterprise_pages.ENTERPRISE_PAGES,
                    *check_pages.CHECK_PAGES,
                    *draw_pages.DRAW_PAGES,
                    *campaign_pages.CAMPAIGN_PAGES,
                ]
            ),
            inspector_pages.feed_pages,
            staff_static(),
            health,
            ready,
            Metrics,
            api_docs.swagger_ui_assets(),
            *map_controllers.leaflet_assets(),
        ],
        # Any handler may take ``lang`` or ``translator``, and the settings it needs (the
        # services receive them from the handler; they never read settings themselves).
        dependencies={
            **LANGUAGE,
            "settings": Provide(provide_settings, sync_to_thread=False),
            "public_settings": Provide(provide_public_settings, sync_to_thread=False),
        },
        # Compiled once per language with the fixed texts translated (equipment/web/templating.py).
        template_config=TemplateConfig(instance=JinjaTemplateEngine.from_environment(pages)),
        # Request ids and the sereg_http_* metrics (per route template, method, status).
        middleware=[RequestMiddleware],
        exception_handlers=EXCEPTION_HANDLERS,
        on_startup=[*([start] if manage_db else []), *([settle_down] if settle else [])],
        # The feed first: its streams end, so the server need not wait out their clients.
        on_shutdown=[feed.close, export_worker.shutdown, stop]
        if manage_db
        else [feed.close, export_worker.shutdown],
        openapi_config=OpenAPIConfig(
            title="sereg",
            version="1",
            description="Special-equipment register and inspection tracker",
            path="/schema",
            # An operation's description is its handler's docstring.
            use_handler_docstrings=True,
            components=api_docs.COMPONENTS,
            render_plugins=[api_docs.swagger_ui()],
        ),
        logging_config=None,
        debug=False,
    )


logging.getLogger("sereg").addHandler(logging.NullHandler())
