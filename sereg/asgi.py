"""ASGI entry point for servers: ``uvicorn sereg.asgi:app``."""

from sereg.app import create_app

app = create_app()
