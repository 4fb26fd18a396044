"""The one settings object: what each part of sereg may be configured with.

Each concern gets its own frozen dataclass. ``settings_from_env()`` is the only reader of
``os.environ`` in the project, called once by the bootstrap (``sereg.bootstrap``), which
hands each part the settings it needs; nothing below the bootstrap reads them itself.
The module sits below every package that uses a part of it (equipment, ingest_mqtt,
sereg), so no import runs upward to reach it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

# The checkout this code runs from, if it runs from one (quickstart.py, an editable install).
_CHECKOUT = Path(__file__).resolve().parent.parent


def default_sqlite_path(env: dict[str, str]) -> Path:
    """Where the SQLite file is when ``SEREG_SQLITE_PATH`` is unset: one place whatever the
    current directory, so ``sereg`` run from anywhere finds the database quickstart made.

    In a checkout, ``sereg.sqlite3`` at its root (beside pyproject.toml, as quickstart.py
    has always made it); an installed copy has no checkout, so the user's data directory
    (``$XDG_DATA_HOME/sereg``, by default ``~/.local/share/sereg``).
    """
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "quickstart.py").is_file():
        return _CHECKOUT / "sereg.sqlite3"
    data = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local/share")
    return Path(data) / "sereg" / "sereg.sqlite3"


@dataclass(frozen=True)
class DatabaseSettings:
    """``DATABASE_URL`` (postgresql://...) selects PostgreSQL; otherwise a SQLite file."""

    url: str | None = None
    sqlite_path: Path = _CHECKOUT / "sereg.sqlite3"
    # min = max: a pool that grows under a burst opens its connections all at once and
    # stalls the server (measured: p99 154 ms at 200 req/s), then shrinks when idle.
    pool_min: int = 10
    pool_max: int = 10

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def postgres_config(self) -> dict[str, object]:
        """asyncpg connection keywords parsed from the URL."""
        if self.url is None:
            raise ValueError("DATABASE_URL is not set")
        parts = urlsplit(self.url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"DATABASE_URL must start with postgresql://, got {parts.scheme!r}")
        try:
            port = parts.port or 5432
        except ValueError as exc:
            raise ValueError(f"DATABASE_URL has an invalid port: {exc}") from exc
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(options) - {"sslmode"})
        if unknown:
            # Dropping an option silently could, say, turn off TLS: refuse instead.
            raise ValueError(f"DATABASE_URL option(s) not supported: {', '.join(unknown)}")
        config: dict[str, object] = {
            "host": parts.hostname or "127.0.0.1",
            "port": port,
            "user": unquote(parts.username or "postgres"),
            "database": (parts.path or "/").lstrip("/") or "postgres",
        }
        if parts.password:
            config["password"] = unquote(parts.password)
        if "sslmode" in options:
            config["ssl"] = options["sslmode"]  # asyncpg takes libpq's sslmode names
        return config


@dataclass(frozen=True)
class MqttSettings:
    """``MQTT_URL``: mqtt://[user[:password]@]host[:port], or mqtts:// for TLS."""

    url: str = "mqtt://127.0.0.1:1883"
    # Parsed into an equipment.broker.MqttConnection by the bootstrap, where the
    # link lives (a bad URL stops the start of the process that needs the broker).


@dataclass(frozen=True)
class IngestSettings:
    """The MQTT consumer (``sereg ingest``)."""

    # Every worker joins $share/<group>/...; the broker spreads messages over them.
    group: str = "sereg-ingest"
    # One persistent session per worker: the id must be stable across restarts of the
    # same worker (so its backlog waits for it) and differ between workers.
    client_id: str = field(default_factory=lambda: f"sereg-ingest-{socket.gethostname()}")
    # A batch is committed in one transaction when it is full or this old.
    batch_size: int = 500
    batch_wait_ms: int = 50
    # Batches judged ahead and committing at once (PostgreSQL): the one being written and
    # those waiting for it. The database's time per batch hides behind the judging of
    # the next ones. 1 commits one batch at a time.
    pipeline_depth: int = 3
    # MQTT v5 Receive Maximum: QoS 1 messages the broker may have in flight to us
    # unacknowledged. It bounds what one batch can hold, and it is the backpressure.
    receive_maximum: int = 1000
    # How long the broker keeps the session (and queues for it) while the worker is down.
    session_expiry_s: int = 7 * 24 * 3600
    # MQTT keep-alive: the broker drops a worker it hears nothing from for 1.5 times this.
    keepalive_s: int = 30
    # After SIGTERM: batches already judged are committed, then what waits is committed
    # while this many seconds last; the rest is left unacknowledged for the broker to
    # send again. Keep it under the deployment's stop grace period (compose: 30 s).
    stop_grace_s: int = 10
    # TEST AND BENCHMARK ONLY: each commit takes this many times as long (the worker
    # sleeps after committing, before acknowledging), a stand-in for a slower database.
    commit_slowdown: int = 1
    # Broker-wide stored messages / bytes ($SYS/broker/store/messages/...) past which the
    # worker logs an alarm and sets sereg_broker_store_alarm (0: not watched). Defaults:
    # 80 % of deploy/mosquitto's per-client max_queued_messages and max_queued_bytes.
    broker_store_alarm_messages: int = 800_000
    broker_store_alarm_bytes: int = 429_496_730
    # A lift that sent nothing for this long is marked offline (one alarm).
    offline_after_s: int = 300
    sweep_interval_s: int = 30
    # How often each worker checks the last two days' maintenance records against the
    # lifts' telemetry (idempotent: a record is flagged once whichever worker finds it).
    maintenance_check_s: int = 3600
    # JSON {"platforms": {name: {raw code: kind}}}: local platforms' fault codes.
    fault_codes_path: Path | None = None
    # Run the consumer inside the API process (``sereg serve --ingest``): one process for a
    # first run on SQLite; production runs ``sereg ingest`` workers of its own.
    in_process: bool = False
    # Where the worker serves its Prometheus metrics (unset: not served).
    metrics_port: int | None = None
    metrics_host: str = "0.0.0.0"
    # How far from its receipt a message's timestamps may lie; outside, it is dead-lettered
    # as invalid_value (why these defaults: ingest_mqtt.messages.TimeWindows). 30 days back
    # covers a station or lift buffering through a long outage; a fill a day ahead is
    # stored and flagged 19 (a device in the wrong time zone), a lift message only minutes.
    fill_max_age_days: int = 30
    fill_max_ahead_hours: int = 24
    lift_max_age_days: int = 30
    lift_max_ahead_minutes: int = 10


@dataclass(frozen=True)
class FillSettings:
    """sereg's own traceability limits (not regulation: configurable)."""

    min_refill_minutes: int = 30
    max_travel_kmh: int = 120


@dataclass(frozen=True)
class RetentionSettings:
    """What ``sereg prune`` removes. Fill records are never pruned sooner than 2 years
    (traceability records, docs/rules.md "Gas cylinders" [S])."""

    heartbeat_days: int = 30
    dead_letter_days: int = 90
    fill_days: int | None = None  # unset: fills are kept (at least 2 years if set)
    lift_event_days: int | None = None  # unset: the fault history is kept
    # The live alarm board's change feed (alarm_change). A board catches up within
    # seconds: on SQLite the feed polls every StreamSettings.poll_ms, on PostgreSQL it is
    # told by NOTIFY (and looks again every minute in case one was lost), and a browser
    # reconnects 3 s after a drop with Last-Event-ID; a client further than 1,000 changes
    # behind reloads instead (alarm_feed.MAX_REPLAY), and those last 1,000 are kept
    # whatever their age. A week covers a board or feed stalled over a long weekend.
    alarm_change_days: int = 7
    # How often each ingest worker prunes (idempotent, so several workers may).
    interval_s: int = 3600


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class PasswordSettings:
    """argon2id's cost for each new password hash. The defaults are argon2-cffi's RFC 9106
    low-memory profile (3 passes over 64 MiB in 4 lanes): what production runs with.

    A hash carries its own parameters, so a login verifies any stored hash at the cost it
    was made with, and rehashes it at these costs when they differ. The test suite sets the
    cheapest costs argon2 allows (1 pass, 8 KiB, 1 lane) for its throwaway accounts, whose
    passwords are public anyway: the same hashing, verifying and rehashing code runs, only
    the work factor an attacker would face is lower, for accounts that guard nothing.
    """

    time_cost: int = 3  # SEREG_ARGON2_TIME_COST: passes
    memory_kib: int = 65536  # SEREG_ARGON2_MEMORY_KIB
    parallelism: int = 4  # SEREG_ARGON2_PARALLELISM: lanes

    def __post_init__(self) -> None:
        # argon2's own floors (RFC 9106 §3.1): refused at start, not at the first login.
        if self.time_cost < 1 or self.parallelism < 1:
            raise ValueError("argon2 needs at least 1 pass and 1 lane")
        if self.memory_kib < 8 * self.parallelism:
            raise ValueError("argon2 needs at least 8 KiB of memory per lane")


@dataclass(frozen=True)
class RulesSettings:
    # A JSON file of province or bureau overrides of the [S]/[U] inspection rules.
    policy_path: Path | None = None


@dataclass(frozen=True)
class ResponseSettings:
    # Entrapment: on site within 30 minutes in city districts, 1 hour elsewhere
    # (《湖北省电梯使用安全管理办法》: rules lift.entrapment.city / .elsewhere, also
    # overridable in the rules policy). Set, these win over the policy; unset (None), the
    # policy's minutes apply. The 2025 Hubei lift-safety regulations may change them.
    city_minutes: int | None = None
    other_minutes: int | None = None


@dataclass(frozen=True)
class PublicSettings:
    """The public side: the page a unit's QR code opens, and citizen reports."""

    # The address the public reaches this service at, printed into every QR code
    # (SEREG_PUBLIC_BASE_URL, e.g. https://tzsb.example.gov.cn); unset: this server's own.
    base_url: str | None = None
    # The special-equipment emergency line shown on every public answer: 96333 unless the
    # city runs another (SEREG_EMERGENCY_NUMBER).
    emergency_number: str = "96333"
    # Signs the anonymous report form; unset: a random key kept in the database, shared
    # by every worker.
    form_secret: str | None = None
    # Citizen reports accepted per client address and per unit within one hour: enough
    # for a real problem, too few for a flood.
    reports_per_client_hour: int = 5
    reports_per_unit_hour: int = 20


@dataclass(frozen=True)
class NotifySettings:
    """The notification worker (``sereg notify``): webhook delivery and escalation timers."""

    # How often an idle worker looks for new work; a busy one goes straight on.
    poll_s: float = 1.0
    # A claimed delivery is another worker's to retry once this lease has run out (a worker
    # killed mid-delivery loses nothing). Longer than the request timeout.
    lease_s: int = 60
    timeout_s: float = 10.0
    backoff_base_s: float = 30.0
    backoff_cap_s: float = 3600.0
    max_attempts: int = 5
    batch: int = 50
    # Escalation: minutes an unacknowledged critical alarm waits before the company's
    # second contact and the district desk are told (the rules policy may override it).
    unacknowledged_minutes: int = 5
    # Test-only: every worker adds the seconds in the clock_offset table to its clock, so a
    # test moves time for all processes at once. Never set in production.
    test_clock: bool = False
    # SEREG_NOTIFY_MQTT_URL: the broker (user with the sereg-notify role) the worker
    # publishes organisations' alert topics to; empty: no alert topics are published (and
    # no alert deliveries are queued for them).
    mqtt_url: str = ""
    # SEREG_WEBHOOK_ALLOW_PRIVATE (comma-separated): the non-public destinations webhook
    # URLs may resolve to (loopback, private, link-local and the like are refused by
    # default, against server-side request forgery): ``*`` for all, addresses or CIDRs
    # (``10.8.0.0/16``), host names (``sms-gw.bureau.internal``). Read by the API (at
    # registration) and by the worker (at each delivery).
    allow_private: tuple[str, ...] = ()
    # SEREG_RISK_DAILY_HOUR: from this hour (China time, 0-23) each day the workers grade
    # the whole register again, a batch a pass (days overdue, late maintenance and age move
    # with the calendar); ``off``: never (run ``sereg risk recompute`` instead).
    risk_daily_hour: int | None = 2


@dataclass(frozen=True)
class StreamSettings:
    """The live alarm stream (``GET /api/v1/alarms/stream``, server-sent events)."""

    # Streams one API process holds open at once; one more is answered 503.
    max_streams: int = 200
    # Changes waiting for one stream's client; a client that falls this far behind is
    # dropped (it reconnects with Last-Event-ID and reads the rest from the database).
    queue_size: int = 256
    # A comment line this often keeps proxies from closing an idle stream.
    keepalive_s: int = 15
    # SQLite has no LISTEN/NOTIFY: the feed looks for new changes this often. On
    # PostgreSQL the same interval is a safety net for a notification lost in a reconnect.
    poll_ms: int = 500


TILE_CRS = ("wgs84", "gcj02")


@dataclass(frozen=True)
class MapSettings:
    """The map's base tiles. None (the default) is offline: the map draws the register's
    own district and area outlines as its base."""

    # A Leaflet tile URL template, e.g. Tianditu's or AMap's ({z}/{x}/{y}, {s}).
    tile_url: str | None = None
    # The coordinate system the tiles are drawn in: gcj02 for AMap and Tencent (the
    # national "Mars" offset), wgs84 for Tianditu. Every coordinate the map endpoints send
    # is in this system, so points sit on the right street of the tiles.
    tile_crs: str = "wgs84"
    tile_attribution: str = ""
    tile_max_zoom: int = 18


@dataclass(frozen=True)
class EvidenceSettings:
    """Where hazard evidence files (photos, documents) are kept: a local directory (the
    default) or, with ``s3_bucket`` set, an S3-compatible object store (MinIO, OSS, COS)."""

    directory: Path = _CHECKOUT / "evidence-files"
    s3_endpoint: str | None = None  # e.g. http://minio:9000; None: AWS's own endpoints
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    # Credentials: these, else boto3's own chain (AWS_ACCESS_KEY_ID..., an instance role).
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    max_bytes: int = 10 * 2**20  # one photo or scanned document


# The longest publication deadline a plan may give (services.draws checks each plan against
# it); SEREG_DRAW_PUBLISH_DAYS is held to the same bound, so a plan left to the default is
# never refused for a value its client did not send.
MAX_PUBLISH_WORKING_DAYS = 60


@dataclass(frozen=True)
class DrawSettings:
    """Random inspections (双随机、一公开): the bureau's defaults, not regulation [U]."""

    # SEREG_DRAW_RATIOS: the share of each credit class a plan draws unless it says
    # otherwise ("A=3%,B=5%,C=10%,D=20%"); each stratum's count is rounded up.
    ratios: str = "A=3%,B=5%,C=10%,D=20%"
    # SEREG_DRAW_CONFLICT_MONTHS: an inspector whose inspection body inspected one of the
    # enterprise's units within this many months is not drawn for it.
    conflict_months: int = 12
    # SEREG_DRAW_PUBLISH_DAYS: a result is published within this many working days of its
    # check unless its plan says otherwise. 一公开 asks that results be published [C]; the
    # regulations on file give no deadline, so 20 is the bureau's default [U].
    publish_working_days: int = 20


@dataclass(frozen=True)
class ClockSettings:
    """Tests only: ``pinned_at`` (an aware instant) stops the service's clock there, so
    ``clock.now()`` and ``clock.today()`` answer it in this process until another
    bootstrap is installed. None (the default, and always in production) is the real
    clock. Not read from the environment."""

    pinned_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.pinned_at is not None and self.pinned_at.utcoffset() is None:
            raise ValueError("ClockSettings.pinned_at must carry its time zone")


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    response: ResponseSettings = field(default_factory=ResponseSettings)
    mqtt: MqttSettings = field(default_factory=MqttSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    fills: FillSettings = field(default_factory=FillSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    public: PublicSettings = field(default_factory=PublicSettings)
    stream: StreamSettings = field(default_factory=StreamSettings)
    map: MapSettings = field(default_factory=MapSettings)
    evidence: EvidenceSettings = field(default_factory=EvidenceSettings)
    draw: DrawSettings = field(default_factory=DrawSettings)
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    clock: ClockSettings = field(default_factory=ClockSettings)
    log_json: bool = False

    def public_base_url(self) -> str:
        """Where the public reaches the service, without a trailing slash."""
        if self.public.base_url:
            return self.public.base_url.rstrip("/")
        host = "127.0.0.1" if self.http.host in ("0.0.0.0", "::") else self.http.host
        return f"http://{host}:{self.http.port}"


def _env_int(
    env: dict[str, str], name: str, default: int, low: int = 1, high: int | None = None
) -> int:
    """An integer setting within [low, high]: a zero batch size or a negative pipeline
    depth is refused at start, naming the variable, not taken for something else."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{name} must be {bounds}, got {raw!r}")
    return value


def _env_flag(env: dict[str, str], name: str) -> bool:
    return env.get(name, "").lower() in ("1", "true", "yes")


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    return Settings(
        database=DatabaseSettings(
            url=env.get("DATABASE_URL") or None,
            # Absolute, so every message can name the file that was opened.
            sqlite_path=(
                Path(env["SEREG_SQLITE_PATH"]).expanduser().absolute()
                if env.get("SEREG_SQLITE_PATH")
                else default_sqlite_path(env)
            ),
            pool_min=_env_int(env, "SEREG_DB_POOL_MIN", 10, low=0),
            pool_max=_env_int(env, "SEREG_DB_POOL_MAX", 10),
        ),
        evidence=EvidenceSettings(
            directory=(
                Path(env["SEREG_EVIDENCE_DIR"]).expanduser().absolute()
                if env.get("SEREG_EVIDENCE_DIR")
                else default_sqlite_path(env).parent / "evidence-files"
            ),
            s3_endpoint=env.get("SEREG_EVIDENCE_S3_ENDPOINT") or None,
            s3_bucket=env.get("SEREG_EVIDENCE_S3_BUCKET") or None,
            s3_region=env.get("SEREG_EVIDENCE_S3_REGION") or EvidenceSettings.s3_region,
            s3_access_key=env.get("SEREG_EVIDENCE_S3_ACCESS_KEY") or None,
            s3_secret_key=env.get("SEREG_EVIDENCE_S3_SECRET_KEY") or None,
            max_bytes=_env_int(env, "SEREG_EVIDENCE_MAX_BYTES", EvidenceSettings.max_bytes),
        ),
        rules=RulesSettings(
            policy_path=Path(env["SEREG_RULES_POLICY"]) if env.get("SEREG_RULES_POLICY") else None
        ),
        response=ResponseSettings(
            city_minutes=_env_int(env, "SEREG_ENTRAPMENT_CITY_MINUTES", 0, low=0) or None,
            other_minutes=_env_int(env, "SEREG_ENTRAPMENT_OTHER_MINUTES", 0, low=0) or None,
        ),
        mqtt=MqttSettings(url=env.get("MQTT_URL", MqttSettings.url)),
        ingest=IngestSettings(
            group=env.get("SEREG_INGEST_GROUP") or IngestSettings.group,
            client_id=env.get("SEREG_INGEST_CLIENT_ID") or IngestSettings().client_id,
            batch_size=_env_int(env, "SEREG_INGEST_BATCH", IngestSettings.batch_size),
            batch_wait_ms=_env_int(
                env, "SEREG_INGEST_BATCH_MS", IngestSettings.batch_wait_ms, low=0
            ),
            pipeline_depth=_env_int(env, "SEREG_INGEST_PIPELINE", IngestSettings.pipeline_depth),
            # MQTT 5 3.1.2.11.3: a Receive Maximum of 0 is a protocol error, 65,535 the most.
            receive_maximum=_env_int(
                env,
                "SEREG_INGEST_RECEIVE_MAXIMUM",
                IngestSettings.receive_maximum,
                high=65535,
            ),
            keepalive_s=_env_int(env, "SEREG_INGEST_KEEPALIVE_S", IngestSettings.keepalive_s),
            stop_grace_s=_env_int(
                env, "SEREG_INGEST_STOP_GRACE_S", IngestSettings.stop_grace_s, low=0
            ),
            commit_slowdown=_env_int(
                env, "SEREG_INGEST_COMMIT_SLOWDOWN", IngestSettings.commit_slowdown
            ),
            broker_store_alarm_messages=_env_int(
                env,
                "SEREG_BROKER_STORE_ALARM_MESSAGES",
                IngestSettings.broker_store_alarm_messages,
                low=0,
            ),
            broker_store_alarm_bytes=_env_int(
                env,
                "SEREG_BROKER_STORE_ALARM_BYTES",
                IngestSettings.broker_store_alarm_bytes,
                low=0,
            ),
            offline_after_s=_env_int(
                env, "SEREG_LIFT_OFFLINE_AFTER_S", IngestSettings.offline_after_s
            ),
            sweep_interval_s=_env_int(env, "SEREG_INGEST_SWEEP_S", IngestSettings.sweep_interval_s),
            maintenance_check_s=_env_int(
                env, "SEREG_MAINTENANCE_CHECK_S", IngestSettings.maintenance_check_s
            ),
            fault_codes_path=(
                Path(env["SEREG_FAULT_CODES"]) if env.get("SEREG_FAULT_CODES") else None
            ),
            in_process=_env_flag(env, "SEREG_INGEST_IN_PROCESS"),
            metrics_port=_env_int(env, "SEREG_INGEST_METRICS_PORT", 0, low=0, high=65535) or None,
            metrics_host=env.get("SEREG_INGEST_METRICS_HOST") or IngestSettings.metrics_host,
            fill_max_age_days=_env_int(
                env, "SEREG_INGEST_FILL_MAX_AGE_DAYS", IngestSettings.fill_max_age_days
            ),
            fill_max_ahead_hours=_env_int(
                env, "SEREG_INGEST_FILL_MAX_AHEAD_HOURS", IngestSettings.fill_max_ahead_hours
            ),
            lift_max_age_days=_env_int(
                env, "SEREG_INGEST_LIFT_MAX_AGE_DAYS", IngestSettings.lift_max_age_days
            ),
            lift_max_ahead_minutes=_env_int(
                env, "SEREG_INGEST_LIFT_MAX_AHEAD_MINUTES", IngestSettings.lift_max_ahead_minutes
            ),
        ),
        fills=FillSettings(
            min_refill_minutes=_env_int(
                env, "SEREG_FILL_MIN_REFILL_MINUTES", FillSettings.min_refill_minutes, low=0
            ),
            max_travel_kmh=_env_int(env, "SEREG_FILL_MAX_TRAVEL_KMH", FillSettings.max_travel_kmh),
        ),
        retention=RetentionSettings(
            heartbeat_days=_env_int(
                env, "SEREG_RETAIN_HEARTBEAT_DAYS", RetentionSettings.heartbeat_days
            ),
            dead_letter_days=_env_int(
                env, "SEREG_RETAIN_DEAD_LETTER_DAYS", RetentionSettings.dead_letter_days
            ),
            fill_days=_env_int(env, "SEREG_RETAIN_FILL_DAYS", 0, low=0) or None,
            lift_event_days=_env_int(env, "SEREG_RETAIN_LIFT_EVENT_DAYS", 0, low=0) or None,
            alarm_change_days=_env_int(
                env, "SEREG_RETAIN_ALARM_CHANGE_DAYS", RetentionSettings.alarm_change_days
            ),
            interval_s=_env_int(env, "SEREG_PRUNE_INTERVAL_S", RetentionSettings.interval_s),
        ),
        http=HttpSettings(
            host=env.get("SEREG_HOST", HttpSettings.host),
            port=_env_int(env, "SEREG_PORT", HttpSettings.port, high=65535),
        ),
        notify=NotifySettings(
            poll_s=_env_int(env, "SEREG_NOTIFY_POLL_MS", 1000) / 1000,
            lease_s=_env_int(env, "SEREG_WEBHOOK_LEASE_S", NotifySettings.lease_s),
            timeout_s=_env_int(env, "SEREG_WEBHOOK_TIMEOUT_S", int(NotifySettings.timeout_s)),
            backoff_base_s=_env_int(env, "SEREG_WEBHOOK_BACKOFF_MS", 30_000) / 1000,
            backoff_cap_s=_env_int(env, "SEREG_WEBHOOK_BACKOFF_CAP_S", 3600),
            max_attempts=_env_int(env, "SEREG_WEBHOOK_MAX_ATTEMPTS", NotifySettings.max_attempts),
            unacknowledged_minutes=_env_int(
                env, "SEREG_ESCALATE_UNACKNOWLEDGED_MINUTES", NotifySettings.unacknowledged_minutes
            ),
            test_clock=_env_flag(env, "SEREG_TEST_CLOCK"),
            mqtt_url=env.get("SEREG_NOTIFY_MQTT_URL", ""),
            allow_private=tuple(
                entry.strip()
                for entry in env.get("SEREG_WEBHOOK_ALLOW_PRIVATE", "").split(",")
                if entry.strip()
            ),
            batch=_env_int(env, "SEREG_NOTIFY_BATCH", NotifySettings.batch, high=1000),
            risk_daily_hour=(
                None
                if env.get("SEREG_RISK_DAILY_HOUR", "").strip().lower() == "off"
                else _env_int(env, "SEREG_RISK_DAILY_HOUR", 2, low=0, high=23)
            ),
        ),
        public=_public_settings(env),
        stream=StreamSettings(
            max_streams=_env_int(env, "SEREG_STREAM_MAX", StreamSettings.max_streams),
            queue_size=_env_int(env, "SEREG_STREAM_QUEUE", StreamSettings.queue_size),
            keepalive_s=_env_int(env, "SEREG_STREAM_KEEPALIVE_S", StreamSettings.keepalive_s),
            poll_ms=_env_int(env, "SEREG_STREAM_POLL_MS", StreamSettings.poll_ms, low=10),
        ),
        map=_map_settings(env),
        draw=DrawSettings(
            ratios=env.get("SEREG_DRAW_RATIOS") or DrawSettings.ratios,
            conflict_months=_env_int(
                env, "SEREG_DRAW_CONFLICT_MONTHS", DrawSettings.conflict_months, low=0, high=120
            ),
            publish_working_days=_env_int(
                env,
                "SEREG_DRAW_PUBLISH_DAYS",
                DrawSettings.publish_working_days,
                high=MAX_PUBLISH_WORKING_DAYS,
            ),
        ),
        passwords=PasswordSettings(
            time_cost=_env_int(env, "SEREG_ARGON2_TIME_COST", PasswordSettings.time_cost),
            memory_kib=_env_int(env, "SEREG_ARGON2_MEMORY_KIB", PasswordSettings.memory_kib, low=8),
            parallelism=_env_int(env, "SEREG_ARGON2_PARALLELISM", PasswordSettings.parallelism),
        ),
        log_json=_env_flag(env, "SEREG_LOG_JSON"),
    )


def _public_settings(env: dict[str, str]) -> PublicSettings:
    base_url = env.get("SEREG_PUBLIC_BASE_URL") or None
    if base_url is not None and urlsplit(base_url).scheme not in ("http", "https"):
        raise ValueError(
            f"SEREG_PUBLIC_BASE_URL must start with https:// or http://, got {base_url!r}"
        )
    number = env.get("SEREG_EMERGENCY_NUMBER") or PublicSettings.emergency_number
    if not number.replace("-", "").isdigit() or len(number) > 20:
        raise ValueError(f"SEREG_EMERGENCY_NUMBER must be a phone number, got {number!r}")
    return PublicSettings(
        base_url=base_url,
        emergency_number=number,
        form_secret=env.get("SEREG_FORM_SECRET") or None,
        reports_per_client_hour=_env_int(
            env, "SEREG_REPORTS_PER_CLIENT_HOUR", PublicSettings.reports_per_client_hour
        ),
        reports_per_unit_hour=_env_int(
            env, "SEREG_REPORTS_PER_UNIT_HOUR", PublicSettings.reports_per_unit_hour
        ),
    )


def _map_settings(env: dict[str, str]) -> MapSettings:
    tile_url = env.get("SEREG_MAP_TILE_URL") or None
    if tile_url is not None and urlsplit(tile_url).scheme not in ("http", "https"):
        raise ValueError(
            f"SEREG_MAP_TILE_URL must start with https:// or http://, got {tile_url!r}"
        )
    tile_crs = (env.get("SEREG_MAP_TILE_CRS") or MapSettings.tile_crs).lower()
    if tile_crs not in TILE_CRS:
        raise ValueError(
            f"SEREG_MAP_TILE_CRS must be one of {', '.join(TILE_CRS)}, got {tile_crs!r}"
        )
    return MapSettings(
        tile_url=tile_url,
        tile_crs=tile_crs,
        tile_attribution=env.get("SEREG_MAP_TILE_ATTRIBUTION", ""),
        tile_max_zoom=_env_int(env, "SEREG_MAP_TILE_MAX_ZOOM", MapSettings.tile_max_zoom, high=22),
    )
