# sereg: the HTTP API and (same image, other command) the MQTT ingest worker.
#   docker build -t sereg .
#   docker run -p 8000:8000 -e DATABASE_URL=postgresql://... sereg
# Without DATABASE_URL the service uses a SQLite file in /var/lib/sereg.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# An unprivileged user owns only its working directory (the SQLite file lives there).
RUN groupadd --system --gid 10001 sereg \
    && useradd --system --uid 10001 --gid sereg --home-dir /var/lib/sereg --create-home \
        --shell /usr/sbin/nologin sereg

WORKDIR /src
COPY . .
# The lock file's exact versions first, then sereg itself without resolving anything again.
RUN pip install -r requirements.lock && pip install --no-deps . && rm -rf build *.egg-info

WORKDIR /var/lib/sereg
USER sereg
ENV SEREG_SQLITE_PATH=/var/lib/sereg/sereg.sqlite3 \
    SEREG_PORT=8000

EXPOSE 8000
CMD ["sereg", "serve", "--host", "0.0.0.0"]
