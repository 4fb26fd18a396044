"""The language of a request's answer: ``?lang=`` first, then Accept-Language, then zh-CN.

Handlers take ``language: str`` (the dependency below) or ``translator`` for a
``Translator`` bound to it; error handlers call ``request_language(request)``.
"""

from __future__ import annotations

from litestar import Request
from litestar.di import Provide

from equipment.i18n import Translator, negotiate


def request_language(request: Request) -> str:
    """The negotiated language of ``request`` (one of ``equipment.i18n.LANGUAGES``)."""
    return negotiate(request.query_params.get("lang"), request.headers.get("accept-language"))


def _language(request: Request) -> str:
    return request_language(request)


def _translator(request: Request) -> Translator:
    return Translator(request_language(request))


# Wired on the app so every handler can ask for ``lang`` or ``translator``.
DEPENDENCIES = {
    "language": Provide(_language, sync_to_thread=False),
    "translator": Provide(_translator, sync_to_thread=False),
}
