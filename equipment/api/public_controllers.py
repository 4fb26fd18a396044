"""The public side's API: the public lookup by code, QR codes of a unit's page, the
printable label sheet, and the inspectors' list of citizen reports."""

from __future__ import annotations

import io
from datetime import date
from functools import lru_cache
from typing import Annotated

import segno
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, JSONBody, PathParameter, QueryParameter
from litestar.response import Template

from equipment.api import api_docs, qr_png
from equipment.api import public_schemas as schemas
from equipment.api.controllers import EquipmentId, Limit, OrgIdPath, page_limit
from equipment.domain.access import Principal
from equipment.i18n import Translator
from equipment.services import citizen_reports, clock, public
from equipment.settings import Settings

PublicCode = Annotated[str, PathParameter(max_length=40, pattern=r"^[0-9A-Za-z]+$")]


@get("/public/equipment/{code:str}", tags=["public"], responses=api_docs.PUBLIC_LOOKUP)
async def public_equipment(
    code: PublicCode, language: NamedDependency[str], settings: NamedDependency[Settings]
) -> schemas.PublicEquipment:
    """What anyone may read about a unit by the code on its sign, no token needed: its
    public safety state (停止使用, 超期未检, 超过设计使用年限, 暂停使用, 正常使用) with the
    reason and since when, inspection and maintenance dates, the organisations in charge
    and the emergency number. Never a person's name, phone or certificate."""
    view = await public.lookup(code, clock.today(), settings.public.emergency_number)
    return schemas.public_equipment(view, language)


# A fixed mask: ISO/IEC 18004 lets the encoder use any of the 8 data masks (a reader tries
# the one the format information names), and scoring all 8 by the standard's penalty rules
# is ~80 % of segno's time for a symbol (measured: ~10 ms auto against ~1-2 ms fixed, see
# bench/public_page.py). Over 300 random codes in our URL form, mask 3 ((i + j) mod 3) was
# the best-scoring mask for 46 % of them and scored at most 1.2x the best (median 1.005x),
# so a printed label loses nothing a phone would notice.
QR_MASK = 3
# zlib level 1: a 360 px two-colour image compresses to ~650 bytes instead of ~450 at the
# default 9, for about a third of the writer's time.
PNG_COMPRESSION = 1


@lru_cache(maxsize=256)  # a label sheet's page at most; a symbol holds ~5 KB of matrix
def _qr(url: str) -> segno.QRCode:
    # Level M survives a scuffed or partly covered label (15 % of the code).
    return segno.make(url, error="m", micro=False, mask=QR_MASK)


@lru_cache(maxsize=4096)
def _qr_image(url: str, kind: str, title: str) -> bytes:
    """The encoded image of ``url``, kept per process: a unit's URL only changes with the
    public base URL (part of the key), and a symbol costs about a millisecond to encode."""
    qr = _qr(url)
    if kind == "png":
        # segno's own PNG writer gives the same bytes for many times the CPU (qr_png).
        return qr_png.png(qr.matrix, 4, PNG_COMPRESSION)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, title=title)
    return out.getvalue()


class QrController(Controller):
    path = "/equipment/{equipment_id:int}"
    tags = ("public",)

    @get("/qr.svg", media_type="image/svg+xml", responses=api_docs.READ_ONE)
    async def qr_svg(
        self,
        principal: NamedDependency[Principal],
        equipment_id: EquipmentId,
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        """The QR code of the unit's public page (/p/{code}) as SVG, for printing."""
        code, url = await public.qr_target(principal, equipment_id, settings.public_base_url())
        image = _qr_image(url, "svg", code)
        return Response(image, media_type="image/svg+xml", headers=_cache())

    @get("/qr.png", media_type="image/png", responses=api_docs.READ_ONE)
    async def qr_png(
        self,
        principal: NamedDependency[Principal],
        equipment_id: EquipmentId,
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        """The QR code of the unit's public page (/p/{code}) as PNG."""
        code, url = await public.qr_target(principal, equipment_id, settings.public_base_url())
        return Response(_qr_image(url, "png", code), media_type="image/png", headers=_cache())


def _cache() -> dict[str, str]:
    # Scoped to the caller's token: a shared cache must not keep it.
    return {"Cache-Control": "private, max-age=3600"}


@get(
    "/organisations/{org_id:int}/labels",
    tags=["public"],
    media_type="text/html",
    responses=api_docs.READ_ONE,
)
async def label_sheet(
    principal: NamedDependency[Principal],
    org_id: OrgIdPath,
    language: NamedDependency[str],
    settings: NamedDependency[Settings],
    after_id: Annotated[int, QueryParameter(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 60,
) -> Template:
    """A print-ready HTML sheet of 使用标志 with QR codes for a user unit's units (its own
    for a user unit, any for an admin); print it from the browser (A4, print CSS)."""
    name, labels = await public.label_sheet(
        principal,
        org_id,
        clock.today(),
        after_id=after_id,
        limit=limit,
        base_url=settings.public_base_url(),
        emergency_number=settings.public.emergency_number,
    )
    items = label_items(labels)
    next_after = labels[-1].id if len(labels) == limit else None
    return Template(
        template_name="label_sheet.html",
        context={
            "_": Translator(language),
            "lang": language,
            "user_unit": name,
            "items": items,
            "next_after": next_after,
            "org_id": org_id,
        },
        media_type="text/html",
    )


def label_items(labels: list[public.Label]) -> list[dict]:
    """The label sheet's items: each label with its QR code as inline SVG (the API's sheet
    and the staff page's print the same)."""
    return [
        {"label": label, "qr": _qr(label.url).svg_inline(scale=3, border=2, omitsize=True)}
        for label in labels
    ]


class CitizenReportController(Controller):
    path = "/citizen-reports"
    tags = ("citizen reports",)

    @get("/", responses=api_docs.READ)
    async def list_(
        self,
        principal: NamedDependency[Principal],
        language: NamedDependency[str],
        equipment_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        category: Annotated[str | None, QueryParameter(max_length=24)] = None,
        district_code: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{6}$")] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        before_id: Annotated[int | None, QueryParameter(ge=1, le=2**63 - 1)] = None,
        limit: Limit = None,
    ) -> schemas.CitizenReportPage:
        """Reports the public sent from units' pages, newest first (inspectors and admins;
        never shown publicly). Page on with ``before_id``."""
        size = page_limit(limit)
        f = citizen_reports.ReportFilter(equipment_id, category, district_code, since, until)
        rows = await citizen_reports.list_reports(principal, f, before_id=before_id, limit=size)
        return schemas.CitizenReportPage(
            [schemas.citizen_report(r, language) for r in rows],
            rows[-1].id if len(rows) == size else None,
        )

    @post("/{report_id:int}/finding", responses=api_docs.WRITE, status_code=200)
    async def finding(
        self,
        principal: NamedDependency[Principal],
        report_id: Annotated[int, PathParameter(ge=1, le=2**63 - 1)],
        data: JSONBody[schemas.FindingRequest],
    ) -> dict[str, object]:
        """The bureau's finding on a report it looked into: ``upheld`` (查实) against the
        unit's user unit (or ``against_id``: its maintainer or owning station), or
        ``not_upheld``. Decided once; an upheld report counts in that enterprise's credit
        class for the class table's window."""
        await citizen_reports.decide(
            principal,
            report_id,
            finding=data.finding,
            against=data.against_id,
            note=data.note,
            today=clock.today(),
            now=clock.now(),
        )
        return {"id": report_id, "finding": data.finding}

    @get("/counts", responses=api_docs.READ)
    async def counts(
        self,
        principal: NamedDependency[Principal],
        category: Annotated[str | None, QueryParameter(max_length=24)] = None,
        district_code: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{6}$")] = None,
        since: FromQuery[date | None] = None,
        until: FromQuery[date | None] = None,
        limit: Limit = None,
    ) -> list[schemas.CitizenReportCount]:
        """Units by number of citizen reports, most first, with the latest one's time."""
        f = citizen_reports.ReportFilter(None, category, district_code, since, until)
        rows = await citizen_reports.counts_per_unit(principal, f, limit=page_limit(limit))
        return [
            schemas.CitizenReportCount(r.equipment_id, r.code, r.reports, r.last_received_at)
            for r in rows
        ]
