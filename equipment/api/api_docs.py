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
from litestar.openapi.spec import Components, OpenAPIResponse, Operation, SecurityScheme
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
