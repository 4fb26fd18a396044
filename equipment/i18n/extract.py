"""Finds the user-facing message ids in the product's code and templates (Babel's
extractors), and adds new ones to the catalogue.

``python -m equipment.i18n.extract`` updates ``messages.po``: new ids are added with an
empty text for the translator, ids no longer used are kept as obsolete (``#~``) so their
translation is not lost on a rename. The unit test compares the same extraction with the
catalogue, so a message shipped without its Chinese text fails the build.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from equipment.i18n import CATALOGUE_LOCALE, DOMAIN, catalogue_path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("equipment", "geo", "ingest_mqtt", "sereg")

# Python: gettext(lang, msgid, **params), ngettext(lang, singular, plural, n), N_(msgid),
# and ``_ = Translator(lang)`` then ``_(msgid, **params)``. Babel's keyword specs count
# arguments from 1.
PYTHON_KEYWORDS = {"gettext": (2,), "ngettext": (2, 3), "N_": None, "_": None}
# Templates hold a Translator bound to the request's language as ``_``.
TEMPLATE_KEYWORDS = {"_": None, "ngettext": (1, 2)}


def _messages(package: Path) -> Iterator[tuple[str, str | tuple[str, ...], int]]:
    python = extract_from_dir(
        package,
        method_map=[("**.py", "python")],
        keywords=PYTHON_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    templates = extract_from_dir(
        package,
        method_map=[("**/templates/**.html", "jinja2.ext:babel_extract")],
        keywords=TEMPLATE_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    # The English messages of raised domain errors and fill reasons (equipment.i18n.spoken).
    spoken = extract_from_dir(
        package,
        method_map=[("**.py", "equipment.i18n.spoken:extract_spoken")],
        keywords={},
    )
    for source in (python, templates, spoken):
        for filename, lineno, message, _comments, _context in source:
            yield f"{package.name}/{filename}", message, lineno


def extracted() -> Catalog:
    """Every message id used in the product packages, with where it is used."""
    catalogue = Catalog(domain=DOMAIN)
    for name in PRODUCT_PACKAGES:
        for location, message, lineno in _messages(ROOT / name):
            catalogue.add(message, locations=[(location, lineno)])
    return catalogue


def update(lang: str = "zh-CN") -> tuple[int, int]:
    """Merges the extraction into ``lang``'s catalogue; (ids added, ids without text)."""
    path = catalogue_path(lang)
    with path.open("rb") as po:
        catalogue = read_po(po, locale=CATALOGUE_LOCALE[lang], domain=DOMAIN)
    before = {message.id for message in catalogue if message.id}
    # no_fuzzy_matching: a guessed translation of a similar id is worse than none.
    template = extracted()
    template.creation_date = catalogue.creation_date  # no diff when nothing changed
    catalogue.update(template, no_fuzzy_matching=True, update_header_comment=False)
    with path.open("wb") as po:
        write_po(po, catalogue, width=100, sort_output=False, include_previous=False)
    added = sum(1 for message in catalogue if message.id and message.id not in before)
    empty = sum(1 for message in catalogue if message.id and not message.string)
    return added, empty


def main() -> int:
    added, empty = update()
    print(f"{catalogue_path('zh-CN')}: {added} new message id(s), {empty} without Chinese text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
