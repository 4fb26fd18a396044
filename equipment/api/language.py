"""The language of a request's answer: ``?lang=`` first, then Accept-Language, then zh-CN.

Handlers take ``language: str`` (the dependency below) or ``translator`` for a
``Translator`` bound to it; error handlers call ``request_language(request)``.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated

from litestar import Request
from litestar.di import Provide
from litestar.params import HeaderParameter, QueryParameter

from equipment.api.raw_headers import header
from equipment.i18n import Translator, negotiate

ANSWERED_IN: ContextVar[list[str] | None] = ContextVar("sereg_answered_in", default=None)
"""The languages negotiated while a request runs: the request middleware sets a fresh list
per request and labels the answer with the last one (``Content-Language`` and ``Vary:
Accept-Language``), so exactly the answers whose words depended on the language say so.
A list, not the language itself: Litestar resolves several dependencies at once in child
tasks, which see a copy of the context, so a value set there would not reach the
middleware; the list they share does."""


def request_language(request: Request) -> str:
    """The negotiated language of ``request`` (one of ``equipment.i18n.LANGUAGES``)."""
    lang = negotiate(request.query_params.get("lang"), header(request.scope, b"accept-language"))
    answered_in = ANSWERED_IN.get()
    if answered_in is not None:
        answered_in.append(lang)
    return lang


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
