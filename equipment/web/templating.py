"""The pages' Jinja environment: templates compiled once per language, with their fixed
texts already translated.

A staff page renders ``name@lang`` (``staff.page`` adds the language): the same file, but
every ``_("fixed text")`` (a translator call with one string and nothing else) becomes the
catalogue's text for ``lang`` while the template is compiled, and Jinja then writes it,
escaped, into the compiled template as plain output. At run time such a text costs
nothing; before, each was a translator call and an escape on every render (a due page
made ~130 of them, ~1/3 of its rendering, measured). ``_(variable)`` and
``_("text {n}", n=...)`` stay calls of the ``_`` the context holds, as before.

A template a ``name@lang`` one extends, includes or imports is loaded in the same
language. A name without ``@`` (the public pages, which pass the translator in their
context) is compiled as it is, every ``_()`` a call.

A page is joined a few hundred pieces at a time (``PageTemplate.render``): every escaped
value is a ``Markup``, which the garbage collector tracks, and Jinja's own ``render``
holds all of a page's pieces at once before joining them: a due list's ~700 exceeded
the collector's threshold (700 new tracked objects) on every request, so each page ran a
collection and every tenth a larger one (measured: 0.9 and 0.08 a request, against none
for its JSON twin).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, Template
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

from equipment.i18n import LANGUAGES, Translator

SEPARATOR = "@"


def localised(template_name: str, lang: str) -> str:
    """The name under which ``template_name`` is compiled with ``lang``'s fixed texts."""
    return f"{template_name}{SEPARATOR}{lang}"


def _split(name: str | None) -> tuple[str | None, str | None]:
    if name is None or SEPARATOR not in name:
        return name, None
    base, _, lang = name.rpartition(SEPARATOR)
    return (base, lang) if lang in LANGUAGES else (name, None)


class FixedTexts(Extension):
    """Translates ``_("text")`` while a ``name@lang`` template is compiled."""

    def filter_stream(self, stream: TokenStream) -> Iterable[Token]:
        _, lang = _split(stream.name)
        if lang is None:
            return stream
        return _folded(list(stream), Translator(lang))


def _folded(tokens: list[Token], translate: Translator) -> Iterator[Token]:
    i = 0
    while i < len(tokens):
        token = tokens[i]
        window = tokens[i : i + 4]
        if (
            len(window) == 4
            and token.type == "name"
            and token.value == "_"
            and window[1].type == "lparen"
            and window[2].type == "string"
            and window[3].type == "rparen"
            and (i == 0 or tokens[i - 1].type != "dot")  # not an attribute named _
        ):
            yield Token(token.lineno, "string", translate(window[2].value))
            i += 4
            continue
        yield token
        i += 1


class _Files(BaseLoader):
    """The template files; ``name@lang`` reads ``name``'s file."""

    def __init__(self, directory: Path) -> None:
        self.files = FileSystemLoader(directory)

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        base, _ = _split(template)
        return self.files.get_source(environment, base or template)

    def list_templates(self) -> list[str]:
        return self.files.list_templates()


# Pieces joined at a time: well under the collector's first threshold (700).
CHUNK = 256


class PageTemplate(Template):
    def render(self, *args: Any, **kwargs: Any) -> str:
        """The same text as Jinja's ``render``, joined ``CHUNK`` pieces at a time."""
        pieces = self.generate(*args, **kwargs)
        return "".join(["".join(chain((first,), islice(pieces, CHUNK - 1))) for first in pieces])


class PageEnvironment(Environment):
    template_class = PageTemplate

    def join_path(self, template: str, parent: str) -> str:
        """A template that a ``name@lang`` one extends, includes or imports: in ``lang``."""
        _, lang = _split(parent)
        if lang is None or _split(template)[1] is not None:
            return template
        return localised(template, lang)


def environment(directory: Path) -> Environment:
    """Autoescaped like Litestar's own; the files are read once (a changed template needs
    a restart: no file-system check on every render)."""
    return PageEnvironment(
        loader=_Files(directory),
        autoescape=True,
        auto_reload=False,
        extensions=[FixedTexts],
    )


def compile_all(env: Environment) -> int:
    """Compile every template in every language now (a server's start), not on the first
    request that renders it; returns how many were compiled."""
    names = [name for name in env.list_templates() if name.endswith(".html")]
    for name in names:
        env.get_template(name)
        for lang in LANGUAGES:
            env.get_template(localised(name, lang))
    return len(names) * (1 + len(LANGUAGES))
