"""The API's own documentation: Swagger UI served from the application (no CDN, so it
works on an intranet), the bearer security scheme, and the error responses each
operation documents."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec
import swagger_ui as swagger_ui_package
from litestar import Router
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
    SecurityScheme,
)
from litestar.static_files import create_static_files_router

GEOJSON = "application/geo+json"
SWAGGER_ASSETS = "/static/swagger-ui"
# swagger-ui-py ships Swagger UI 5's dist files inside the wheel; 5 renders OpenAPI 3.1,
# which Litestar writes (Swagger UI 4 refuses a 3.1 document).
SWAGGER_DIST = Path(swagger_ui_package.__file__).parent / "static"

BEARER = "BearerToken"
BEARER_REQUIRED: list[dict[str, list[str]]] = [{BEARER: []}]
COMPONENTS = Components(
    security_schemes={
        BEARER: SecurityScheme(
            type="http",
            scheme="bearer",
            description="A token from 'sereg token create' (or the demo tokens 'sereg serve "
            "--demo' prints), sent as 'Authorization: Bearer <token>'.",
        )
    }
)


def swagger_ui_assets() -> Router:
    """Swagger UI's JavaScript, CSS and icons, from the installed package."""
    return create_static_files_router(path=SWAGGER_ASSETS, directories=[SWAGGER_DIST])


def swagger_ui() -> SwaggerRenderPlugin:
    """/schema and /schema/swagger, loading only this service's own files."""
    return SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f'<link rel="icon" type="image/png" href="{SWAGGER_ASSETS}/favicon-32x32.png">',
    )


class ProblemField(msgspec.Struct):
    key: str
    message: str


class Problem(msgspec.Struct):
    """Every error the API answers (equipment/api/errors.py builds it)."""

    status_code: int
    detail: str
    extra: list[ProblemField]


_MEANING = {
    400: "The parameters or the body do not match the schema",
    401: "No token, or an unknown or revoked one ('Authorization: Bearer <token>')",
    403: "The token's role may not do this",
    404: "No such object within the caller's scope (out-of-scope objects answer the same)",
    409: "The change conflicts with the register's state or with a stored record",
    412: "If-Match names a version that is no longer the current one",
    413: "The body is larger than this operation accepts",
    422: "A value is invalid for the register's rules",
    428: "If-Match is required: send the ETag of the version being changed",
    503: (
        "Busy now (e.g. every live stream of this process is taken, or the export worker"
        " stopped while preparing a download): try again later"
    ),
}


def errors(*statuses: int) -> Mapping[int, ResponseSpec]:
    """The documented error answers of an operation, all ``Problem`` JSON."""
    return {
        status: ResponseSpec(
            data_container=Problem, description=_MEANING[status], generate_examples=False
        )
        for status in statuses
    }


# The common sets; an operation adds the ones it can answer besides these.
PUBLIC = errors(400, 422)
PUBLIC_LOOKUP = errors(400, 404, 422)
READ = errors(400, 401, 403, 422)
READ_ONE = errors(400, 401, 403, 404, 422)
# A download read and formatted in the export worker, which may stop (a 503, and the
# worker is replaced for the next one).
DOWNLOAD = errors(400, 401, 403, 422, 503)
QUERY_BODY = errors(400, 401, 403, 413, 422)
WRITE = errors(400, 401, 403, 404, 409, 413, 422)
VERSIONED = errors(400, 401, 403, 404, 409, 412, 413, 422, 428)


@dataclass
class JsonOrGeoJson(Operation):
    """An operation whose 200 is JSON, or GeoJSON with ``format=geojson``: the same
    document under both media types, so a client (and a conformance check) expects both."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content and "application/json" in ok.content:
            ok.content[GEOJSON] = ok.content["application/json"]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TEXT = Schema(type=OpenAPIType.STRING)
_RECORD = Schema(
    type=OpenAPIType.OBJECT,
    description="One maintenance record (Chinese level names such as 半月 are taken too).",
    required=["record_id", "code", "maintained_on", "level", "technicians"],
    properties={
        "record_id": Schema(type=OpenAPIType.STRING, max_length=64),
        "code": Schema(type=OpenAPIType.STRING, max_length=20),
        "maintained_on": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE),
        "level": Schema(
            type=OpenAPIType.STRING,
            enum=[
                "half_monthly",
                "quarterly",
                "half_yearly",
                "yearly",
                "半月",
                "季度",
                "半年",
                "年度",
            ],
        ),
        "items": Schema(type=OpenAPIType.ARRAY, items=_TEXT),
        "technicians": Schema(
            type=OpenAPIType.ARRAY,
            min_items=1,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["name", "certificate_no"],
                properties={"name": _TEXT, "certificate_no": _TEXT},
            ),
        ),
        "findings": _TEXT,
        "hazards": Schema(type=OpenAPIType.ARRAY, items=_TEXT),
        "signed_off_by": _TEXT,
    },
)
_FILE = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
RECORD_UPLOAD_BODY = RequestBody(
    required=True,
    description=(
        "One record or an array of them as JSON; or a spreadsheet: a CSV body, an XLSX body, "
        "or a form (multipart/form-data) whose field 'file' holds a CSV or XLSX file. "
        "Spreadsheets: UTF-8 (with or without BOM) or GBK/GB18030, Chinese or English "
        "headers (see the templates), dates as 2026-12-04, 2026/12/4, 2026年12月4日, date "
        "cells or Excel serial numbers; rejected rows are named by the row number the "
        "spreadsheet shows (the header is row 1)."
    ),
    content={
        "application/json": OpenAPIMediaType(
            schema=Schema(one_of=[_RECORD, Schema(type=OpenAPIType.ARRAY, items=_RECORD)])
        ),
        "text/csv": OpenAPIMediaType(schema=_TEXT),
        XLSX: OpenAPIMediaType(schema=_FILE),
        "multipart/form-data": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.OBJECT, required=["file"], properties={"file": _FILE})
        ),
    },
)


@dataclass
class RecordUpload(Operation):
    """The maintenance upload, whose handler reads its body itself (streaming a CSV, a
    workbook, a form or JSON): the body it takes, documented here."""

    def __post_init__(self) -> None:
        self.request_body = RECORD_UPLOAD_BODY


EVIDENCE_BODY = RequestBody(
    required=True,
    description=(
        "The file's bytes as the body: a JPEG or PNG photo or a PDF document, told by its "
        "content (the Content-Type and any name are not trusted)."
    ),
    content={
        media: OpenAPIMediaType(schema=_FILE)
        for media in ("image/jpeg", "image/png", "application/pdf", "application/octet-stream")
    },
)


@dataclass
class EvidenceUpload(Operation):
    """An evidence upload: the body is the file itself."""

    def __post_init__(self) -> None:
        self.request_body = EVIDENCE_BODY


@dataclass
class EvidenceDownload(Operation):
    """An evidence file: its bytes under its own media type."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.content = {
                media: OpenAPIMediaType(schema=_FILE)
                for media in ("image/jpeg", "image/png", "application/pdf")
            }
