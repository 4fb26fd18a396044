"""A problem a member of the public reports from a unit's page (举报/投诉): what may be
reported, how long it may be, and the signed token that makes the anonymous form safe
against cross-site posting.

Pure: the clock and the key come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from equipment.i18n import N_

# Stable category codes with their labels (English message ids, zh-CN in the catalogue).
CATEGORIES: dict[str, str] = {
    "trapped": N_("Someone is trapped"),
    "strange_noise": N_("Strange noise or shaking"),
    "no_inspection_sign": N_("No valid inspection sign"),
    "refilled_without_label": N_("Cylinder refilled without a label"),
    "other": N_("Other problem"),
}

MAX_TEXT = 500  # characters: a report is a few sentences, not a document
MAX_PHONE = 20
# Digits with the separators people type; the number is optional.
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{4,18}[0-9]$")
# A page is read, then the form sent: a token older than this was left open too long, and
# one from a page served much later than now is forged or from a skewed clock.
TOKEN_VALID_SECONDS = 2 * 3600


@dataclass(frozen=True)
class ReportInput:
    category: str
    text: str
    phone: str


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str  # a message id
    params: tuple[tuple[str, object], ...] = ()


def validate(
    category: str | None, text: str | None, phone: str | None
) -> ReportInput | list[FieldError]:
    """The report as it will be stored, or what is wrong with each field."""
    errors: list[FieldError] = []
    category = (category or "").strip()
    text = (text or "").strip()
    phone = (phone or "").strip()
    if category not in CATEGORIES:
        errors.append(FieldError("category", N_("Choose what the problem is.")))
    if len(text) > MAX_TEXT:
        errors.append(
            FieldError(
                "text",
                N_("Please describe the problem in at most {limit} characters."),
                (("limit", MAX_TEXT),),
            )
        )
    if category == "other" and not text:
        errors.append(FieldError("text", N_("Describe the problem in a few words.")))
    if phone and (len(phone) > MAX_PHONE or not _PHONE.match(phone)):
        errors.append(
            FieldError("phone", N_("Enter a phone number of digits only, or leave it empty."))
        )
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        errors.append(FieldError("text", N_("The description contains control characters.")))
    return errors or ReportInput(category, text, phone)


def _signature(key: bytes, code: str, issued: int) -> str:
    return hmac.new(key, f"report:{code}:{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def form_token(key: bytes, code: str, now: datetime) -> str:
    """A token for the report form of unit ``code``: when it was issued, signed."""
    issued = int(now.timestamp())
    return f"{issued}.{_signature(key, code, issued)}"


def token_is_valid(key: bytes, code: str, token: str | None, now: datetime) -> bool:
    """True for a token this service issued for ``code`` within the validity window."""
    if not token or len(token) > 64:
        return False
    issued_text, _, signature = token.partition(".")
    # isdigit() also takes "²" and other digits int() refuses: ASCII digits only.
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    age = int(now.timestamp()) - issued
    if not -60 <= age <= TOKEN_VALID_SECONDS:
        return False
    return hmac.compare_digest(signature, _signature(key, code, issued))


def client_key(key: bytes, address: str) -> str:
    """A keyed digest of the sender's address: rate limits count it, nobody reads it back."""
    return hmac.new(key, f"client:{address}".encode(), hashlib.sha256).hexdigest()[:32]
