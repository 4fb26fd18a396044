"""Messages written in English where they are raised, said in the caller's language at the
edge.

The domain raises ``InvalidValue(f"{day} is in the future")`` and builds fill reasons as
``Reason(code, f"{code} is scrapped")``: plain English sentences, so the rules stay
readable and the raise sites need no language argument. Two halves make them speak
Chinese without touching those sites:

- :func:`extract_spoken` is a Babel extraction method: it reads each such call's message
  (a string or an f-string) as a message id whose placeholders are named after the
  f-string's expressions (``{day}``, ``{other_id}`` for ``{other['id']}``), so the
  catalogue, ``python -m equipment.i18n.extract`` and the missing-translation test
  cover them like any ``gettext`` call;
- :func:`speak` takes a finished English sentence and a language, finds the catalogue id
  it was formatted from, and formats that id's translation with the same values.

Pure: imports neither litestar, piccolo nor paho.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import IO, Any

from equipment.i18n import DEFAULT, gettext, translations

# Calls whose message is user-facing: the callable's name → the message's position.
SPOKEN_CALLS: dict[str, int] = {
    # equipment.domain.errors (HTTP details, dead-letter reasons)
    "DomainError": 0,
    "InvalidValue": 0,
    "NotFound": 0,
    "Conflict": 0,
    "TransitionRefused": 0,
    "StaleVersion": 0,
    "VersionRequired": 0,
    "Forbidden": 0,
    "Unauthenticated": 0,
    "Busy": 0,
    "TooManyAttempts": 0,
    # geo's input errors, re-raised as InvalidValue with the same reason
    "GeometryError": 0,
    "AreaImportError": 0,
    "CoordinateError": 0,
    # a fill verdict's reasons (equipment.domain.fills)
    "Reason": 1,
    # the import's findings (their detail) and its file and profile errors
    # (equipment.domain.imports, equipment.services.import_files)
    "Finding": 1,
    "FileProblem": 0,
    "AmbiguousEncoding": 0,
    "ProfileProblem": 0,
    "DateProblem": 0,
    # an inspection report row's problem (equipment.domain.report_sheets)
    "ReportProblem": 0,
    # the problem a code's segment has (equipment.domain.codes), wrapped in its position
    "_segment_error": 4,
}


# Keyword arguments whose text is user-facing wherever they appear: a due date's
# explanation and a rule row's summary (equipment.domain.rules), shown in schedules,
# due lists and the exports' 说明 column.
SPOKEN_KEYWORDS: frozenset[str] = frozenset({"explanation", "summary"})


def _placeholder(expression: ast.expr) -> str:
    """``other['id']`` → ``other_id``; ``day.isoformat()`` → ``day_isoformat``."""
    name = re.sub(r"\W+", "_", ast.unparse(expression)).strip("_")
    return name if name.isidentifier() else f"v_{name}"


def message_template(node: ast.expr) -> str | None:
    """The message id of a string or f-string argument; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.replace("{", "{{").replace("}", "}}")
    if not isinstance(node, ast.JoinedStr):
        return None
    parts: list[str] = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value).replace("{", "{{").replace("}", "}}"))
        elif isinstance(value, ast.FormattedValue):
            parts.append("{" + _placeholder(value.value) + "}")
        else:
            return None
    return "".join(parts)


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def spoken_messages(source: str) -> Iterator[tuple[int, str]]:
    """(line, message id) of every user-facing message in Python ``source``."""
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        position = SPOKEN_CALLS.get(_callee(node) or "")
        arguments = []
        if position is not None and position < len(node.args):
            arguments.append(node.args[position])
        arguments += [k.value for k in node.keywords if k.arg in SPOKEN_KEYWORDS]
        for argument in arguments:
            for part in _branches(argument):
                template = message_template(part)
                if template and template.strip("{} "):
                    yield part.lineno, template


def _branches(node: ast.expr) -> list[ast.expr]:
    """The texts an argument can be: ``a``, ``a if c else b``."""
    if isinstance(node, ast.IfExp):
        return [*_branches(node.body), *_branches(node.orelse)]
    return [node]


def extract_spoken(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extraction method over :func:`spoken_messages`."""
    source = fileobj.read().decode(options.get("encoding", "utf-8"))
    for lineno, message in spoken_messages(source):
        yield lineno, "", message, []


def _pattern(
    msgid: str,
) -> tuple[tuple[re.Pattern[str], ...], list[str], tuple[str, ...]] | None:
    """Regexes matching what ``msgid.format(...)`` produces (values taken as short, then
    as long as they can be: a value may hold the text that follows it, as a rule
    summary holds ": "), its field names, and its literal pieces (a cheap test first)."""
    regex: list[str] = []
    names: list[str] = []
    literal = 0
    pieces: list[str] = []
    try:
        parsed = list(string.Formatter().parse(msgid))
    except ValueError:
        return None
    for text, field, _spec, _conversion in parsed:
        regex.append(re.escape(text))
        literal += len(text)
        if text:
            pieces.append(text.replace("{{", "{").replace("}}", "}"))
        if field is None:
            continue
        if not field.isidentifier():
            return None
        group = f"g{len(names)}"
        names.append(field)
        regex.append(f"(?P<{group}>.+?)")
    if not names or literal == 0:
        return None
    lazy = "".join(regex)
    greedy = lazy.replace(".+?)", ".+)")
    return (re.compile(lazy, re.DOTALL), re.compile(greedy, re.DOTALL)), names, tuple(pieces)


Candidate = tuple[tuple[re.Pattern[str], ...], list[str], str, tuple[str, ...]]
ANCHOR = 3  # characters of a literal start or end used to index an id


@dataclass(frozen=True)
class _Index:
    """The catalogue's ids that take values, indexed by their literal first or last
    characters, so a message is tried against a handful of ids, not all of them."""

    by_start: dict[str, list[Candidate]]
    by_end: dict[str, list[Candidate]]
    floating: list[Candidate]  # an id that starts and ends with a value

    def candidates(self, english: str) -> Iterator[Candidate]:
        yield from self.by_start.get(english[:ANCHOR], ())
        yield from self.by_end.get(english[-ANCHOR:], ())
        yield from self.floating


@cache
def _index(lang: str) -> _Index:
    index = _Index({}, {}, [])
    for msgid in _catalogue_ids(lang):
        compiled = _pattern(msgid)
        if compiled is None:
            continue
        candidate = (*compiled[:2], msgid, compiled[2])
        parsed = list(string.Formatter().parse(msgid))
        head = parsed[0][0].replace("{{", "{").replace("}}", "}")
        tail_text, tail_field = parsed[-1][0], parsed[-1][1]
        tail = tail_text.replace("{{", "{").replace("}}", "}") if tail_field is None else ""
        if len(head) >= ANCHOR:
            index.by_start.setdefault(head[:ANCHOR], []).append(candidate)
        elif len(tail) >= ANCHOR:
            index.by_end.setdefault(tail[-ANCHOR:], []).append(candidate)
        else:
            index.floating.append(candidate)
    return index


@cache
def _catalogue_ids(lang: str) -> tuple[str, ...]:
    from babel.messages.pofile import read_po

    from equipment.i18n import CATALOGUE_LOCALE, catalogue_path

    if lang not in CATALOGUE_LOCALE:
        return ()
    with catalogue_path(lang).open("rb") as po:
        catalogue = read_po(po, locale=CATALOGUE_LOCALE[lang])
    return tuple(
        m.id for m in catalogue if isinstance(m.id, str) and m.id and m.string and not m.fuzzy
    )


def speak(lang: str, english: str) -> str:
    """``english`` (a finished message) in ``lang``; unchanged when the catalogue has no
    id it could have been made from.

    Its dates are set aside first: the message is spoken with a stand-in of the same
    length for each (``_stand_in``: private-use characters, which no id holds)
    and the dates put back after. A schedule's explanations differ from unit to unit by
    their dates alone, so their few shapes stay in the cache instead of every unit's
    texts being matched against the catalogue anew (~230 µs each, three a unit page).
    Dates an id itself holds (``must be a date like 2026-12-31``) are left in place."""
    if lang == "en" or not english:
        return english
    return _said(lang, english)


@lru_cache(maxsize=8192)  # a due list's rows come back page after page
def _said(lang: str, english: str) -> str:
    if not (dates := [d for d in _DATE.findall(english) if d not in _literal_dates(lang)]):
        return _spoken(lang, english, 0)[0]
    kept = iter(range(len(dates)))
    shape = _DATE.sub(
        lambda m: m.group() if m.group() in _literal_dates(lang) else _stand_in(next(kept)),
        english,
    )
    return _STAND_IN.sub(lambda m: dates[int(m.group(1))], _spoken(lang, shape, 0)[0])


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_STAND_IN = re.compile("\ue000" r"(\d{8})" "\ue000")  # private-use marks: no message has them


def _stand_in(i: int) -> str:
    return f"\ue000{i:08d}\ue000"  # ten characters, as a date


@cache
def _literal_dates(lang: str) -> frozenset[str]:
    """Dates written in the catalogue's ids themselves."""
    return frozenset(d for msgid in _catalogue_ids(lang) for d in _DATE.findall(msgid))


@lru_cache(maxsize=8192)  # the same messages and values come back (codes, media, fields)
def _spoken(lang: str, english: str, depth: int) -> tuple[str, int]:
    """The translation and how many characters of ``english`` catalogue text explains.

    A value taken from a message is itself spoken (``"{field}: {exc_reason}"`` wraps
    another message), two levels deep at most. Of the ids a message fits, the one that
    explains most of it wins, so a short generic id (``"{a} is {b}"``) never hides a
    specific one nested inside a wrapper.
    """
    escaped = english.replace("{", "{{").replace("}", "}}")
    plain = gettext(lang, escaped)
    if plain != escaped:
        return plain.replace("{{", "{").replace("}}", "}"), len(english)
    best = (english, 0)
    if depth > 2:
        return best
    for patterns, names, msgid, pieces in _index(lang).candidates(english):
        if not all(piece in english for piece in pieces):
            continue
        for pattern in patterns:
            match = pattern.fullmatch(english)
            if match is None:
                continue
            values, explained = {}, len(english)
            for i, name in enumerate(names):
                value = match.group(f"g{i}")
                spoken, inner = _spoken(lang, value, depth + 1)
                values[name] = spoken
                explained -= len(value) - inner
            if explained > best[1]:
                best = (gettext(lang, msgid, **values), explained)
    return best


def prepare(lang: str) -> None:
    """Read ``lang``'s catalogue and index its ids now, once: a worker that speaks from its
    first message on (``sereg ingest``: every verdict's ``text_zh``) pays it at its start
    instead of in its first batch (0.1-0.2 s of CPU here, a backlog's first batch waiting)."""
    translations(lang)
    _index(lang)


def speak_default(english: str) -> str:
    """``english`` in the product's default language (zh-CN): MQTT's ``text_zh``."""
    return speak(DEFAULT, english)
