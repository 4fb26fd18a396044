"""ASGI entry point for servers: ``uvicorn sereg.asgi:app`` (each worker imports it)."""

from sereg.app import create_app
from sereg.observability import configure_logging
from sereg.settings import get_settings

configure_logging(json_lines=get_settings().log_json)
app = create_app()
