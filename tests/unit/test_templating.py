"""The pages' Jinja environment (equipment/web/templating.py): a ``name@lang`` template has
its fixed texts translated while it is compiled, escaped like any output, and what it
extends is compiled in the same language; anything else stays a call of ``_``."""

from __future__ import annotations

from pathlib import Path

from equipment.i18n import gettext
from equipment.web.templating import compile_all, environment, localised

BASE = '<title>{{ _("Log out") }}</title>{% block body %}{% endblock %}'
CHILD = (
    '{% extends "base.html" %}{% block body %}'
    '<p>{{ _("Due list") }}|{{ _(label) }}|{{ _("{n} entries", n=2) }}|{{ _("<b>&") }}'
    "|{{ tools._('Due list') }}</p>{% endblock %}"
)


class Calls:
    """A translator that records what it was asked at render time."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, msgid: str, **params: object) -> str:
        self.asked.append(msgid)
        return gettext("zh-CN", msgid, **params)


class Tools:
    def _(self, text: str) -> str:
        return f"attr:{text}"


def render(tmp_path: Path, name: str) -> tuple[str, list[str]]:
    (tmp_path / "base.html").write_text(BASE, encoding="utf-8")
    (tmp_path / "child.html").write_text(CHILD, encoding="utf-8")
    calls = Calls()
    html = environment(tmp_path).get_template(name).render(_=calls, label="Overdue", tools=Tools())
    return html, calls.asked


def test_fixed_texts_are_translated_when_compiled(tmp_path: Path) -> None:
    html, asked = render(tmp_path, localised("child.html", "zh-CN"))
    # Only the calls that are not a lone string literal reach the translator at run time.
    assert asked == ["Overdue", "{n} entries"]
    assert gettext("zh-CN", "Log out") in html  # the parent template, in the same language
    assert gettext("zh-CN", "Due list") in html
    assert gettext("zh-CN", "Overdue") in html
    assert "&lt;b&gt;&amp;" in html and "<b>&" not in html  # escaped like any output
    assert "attr:Due list" in html  # an attribute named _ is left alone


def test_english_texts_are_the_message_ids(tmp_path: Path) -> None:
    html, asked = render(tmp_path, localised("child.html", "en"))
    assert "<title>Log out</title>" in html and "<p>Due list|" in html
    assert asked == ["Overdue", "{n} entries"]


def test_a_name_without_a_language_calls_the_translator(tmp_path: Path) -> None:
    html, asked = render(tmp_path, "child.html")
    assert asked == ["Log out", "Due list", "Overdue", "{n} entries", "<b>&"]
    assert gettext("zh-CN", "Due list") in html


def test_every_template_compiles_in_every_language() -> None:
    pages = environment(Path(__file__).parents[2] / "equipment" / "web" / "templates")
    compiled = compile_all(pages)
    assert compiled == len([n for n in pages.list_templates() if n.endswith(".html")]) * 3
    assert compiled > 100
    assert pages.get_template(localised("inspector/due.html", "zh-CN")) is pages.get_template(
        localised("inspector/due.html", "zh-CN")
    )  # compiled once, kept
