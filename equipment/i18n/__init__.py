"""The service's languages: zh-CN first, English second, from gettext catalogues.

Message ids are the English source text; ``locale/zh_CN/LC_MESSAGES/messages.po`` holds the
Chinese. Babel reads the catalogue and compiles it in memory on first use (no ``.mo`` file
is committed: it would be generated data that can drift from the ``.po``).

Pure: imports neither litestar, piccolo nor paho, so the domain, the API, the pages and the
MQTT verdicts can all use it. Placeholders are ``str.format`` names: ``{code}``.

How to use it:

- ``gettext(lang, "Unit {code} is not on the register", code=code)`` translates now;
- ``N_("Scrapped")`` marks a text defined away from any request (a table of labels) so the
  extractor finds it; translate it later with ``gettext(lang, text)``;
- ``python -m equipment.i18n.extract`` adds new message ids to the catalogue (empty, for
  a translator); ``tests/unit/test_i18n.py`` fails while any has no Chinese text.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DEFAULT = "zh-CN"
LANGUAGES = ("zh-CN", "en")

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"

# The gettext locale directory of each language that has a catalogue; English is the
# message ids themselves.
CATALOGUE_LOCALE = {"zh-CN": "zh_CN"}


def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / CATALOGUE_LOCALE[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def N_(msgid: str) -> str:
    """Marks ``msgid`` for translation without translating it (module-level tables)."""
    return msgid


def _language_of(tag: str) -> str | None:
    """``zh``, ``zh-CN``, ``zh_Hans``, ``ZH-cn`` → zh-CN; ``en``, ``en-GB`` → en."""
    primary = tag.strip().replace("_", "-").split("-", 1)[0].lower()
    if primary == "zh":
        return "zh-CN"  # the only Chinese catalogue; Traditional readers still read it
    if primary == "en":
        return "en"
    return None


def _accept_language(header: str) -> str | None:
    """The acceptable supported language of highest q (RFC 9110 12.5.4); ties keep order."""
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        if not tag:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0  # a malformed weight is not a preference
        if not 0 < quality <= 1:
            continue  # q=0 means "not acceptable"
        lang = DEFAULT if tag.strip() == "*" else _language_of(tag)
        if lang is None:
            continue
        candidate = (-quality, position, lang)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def negotiate(query_lang: str | None, accept_language: str | None) -> str:
    """The language of an answer: ``?lang=`` wins, then Accept-Language, then zh-CN."""
    if query_lang:
        lang = _language_of(query_lang)
        if lang is not None:
            return lang
    if accept_language:
        lang = _accept_language(accept_language)
        if lang is not None:
            return lang
    return DEFAULT


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of ``lang`` (built once per process from the ``.po``)."""
    if lang not in CATALOGUE_LOCALE:
        return NullTranslations()
    with catalogue_path(lang).open("rb") as po:
        catalogue = read_po(po, locale=CATALOGUE_LOCALE[lang], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)  # a fuzzy guess is not a translation
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _format(text: str, params: dict[str, object]) -> str:
    return text.format(**params) if params else text


def gettext(lang: str, msgid: str, **params: object) -> str:
    """``msgid`` in ``lang`` (the English id when there is no text), placeholders filled."""
    return _format(translations(lang).gettext(msgid), params)


def ngettext(lang: str, singular: str, plural: str, n: int, **params: object) -> str:
    """The plural-aware form; ``{n}`` is available as a placeholder."""
    return _format(translations(lang).ngettext(singular, plural, n), {"n": n, **params})


class Translator:
    """``gettext`` bound to one language: what a template or a request handler holds."""

    __slots__ = ("lang",)

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT

    def __call__(self, msgid: str, **params: object) -> str:
        return gettext(self.lang, msgid, **params)

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        return ngettext(self.lang, singular, plural, n, **params)
