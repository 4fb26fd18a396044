"""The language of a request's answer: ``?lang=`` first, then Accept-Language, then zh-CN.

Handlers take ``language: str`` (the dependency below) or ``translator`` for a
``Translator`` bound to it; error handlers call ``request_language(request)``.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Request
from litestar.di import Provide
from litestar.params import HeaderParameter, QueryParameter

from equipment.api.raw_headers import header
from equipment.i18n import Translator, negotiate


def request_language(request: Request) -> str:
    """The negotiated language of ``request`` (one of ``equipment.i18n.LANGUAGES``)."""
    return negotiate(request.query_params.get("lang"), header(request.scope, b"accept-language"))


# Declared as parameters so the OpenAPI document lists them on every route whose answer
# they change (those that take ``language`` or ``translator``); the value is read from the
# request as the error handlers read it, so the two never disagree. Any text is accepted:
# an unsupported language falls back to the next choice, never to an error.
Lang = Annotated[
    str | None,
    QueryParameter(
        name="lang",
        required=False,
        description=(
            "Answer language: zh-CN (default) or en; wins over Accept-Language. "
            "Codes and JSON keys stay the same in both."
        ),
    ),
]
AcceptLanguage = Annotated[
    str | None,
    HeaderParameter(
        name="Accept-Language",
        required=False,
        description="RFC 9110 language preference (zh-CN, en; q-values honoured) when no ?lang=.",
    ),
]


def _language(request: Request, lang: Lang = None, accept_language: AcceptLanguage = None) -> str:
    return request_language(request)


def _translator(
    request: Request, lang: Lang = None, accept_language: AcceptLanguage = None
) -> Translator:
    return Translator(request_language(request))


# Wired on the app so every handler can ask for ``lang`` or ``translator``.
DEPENDENCIES = {
    "language": Provide(_language, sync_to_thread=False),
    "translator": Provide(_translator, sync_to_thread=False),
}
