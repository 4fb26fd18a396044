"""Server-rendered pages (Jinja): the public page a unit's QR code opens, in the
request's language. Handlers are as thin as the API's and call the same services."""

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "templates"
