"""Settings read from an explicit environment (never the process's own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from equipment.settings import DatabaseSettings, settings_from_env

ROOT = Path(__file__).resolve().parents[2]  # the checkout the tests run from


def test_defaults_use_a_sqlite_file():
    settings = settings_from_env({})
    assert settings.database.url is None
    assert settings.database.is_postgres is False
    assert settings.database.sqlite_path == ROOT / "sereg.sqlite3"
    assert (settings.database.pool_min, settings.database.pool_max) == (10, 10)
    assert settings.mqtt.url == "mqtt://127.0.0.1:1883"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 8000)
    assert settings.http == type(settings.http)()
    assert settings.log_json is False


def test_postgres_config_without_url_is_an_error():
    with pytest.raises(ValueError, match="DATABASE_URL"):
        settings_from_env({}).database.postgres_config()


def test_empty_database_url_means_sqlite():
    assert settings_from_env({"DATABASE_URL": ""}).database.is_postgres is False


def test_explicit_env_is_read():
    settings = settings_from_env(
        {
            "SEREG_SQLITE_PATH": "/tmp/x/register.sqlite3",
            "SEREG_DB_POOL_MIN": "1",
            "SEREG_DB_POOL_MAX": "32",
            "MQTT_URL": "mqtt://broker:1884",
            "SEREG_HOST": "0.0.0.0",
            "SEREG_PORT": "9000",
            "SEREG_LOG_JSON": "1",
            "SEREG_INGEST_PIPELINE": "1",
            "SEREG_INGEST_RECEIVE_MAXIMUM": "2000",
        }
    )
    assert settings.database.sqlite_path == Path("/tmp/x/register.sqlite3")
    assert (settings.database.pool_min, settings.database.pool_max) == (1, 32)
    assert settings.mqtt.url == "mqtt://broker:1884"
    assert (settings.http.host, settings.http.port) == ("0.0.0.0", 9000)
    assert settings.log_json is True
    assert (settings.ingest.pipeline_depth, settings.ingest.receive_maximum) == (1, 2000)


@pytest.mark.parametrize(("raw", "on"), [("1", True), ("true", True), ("yes", True), ("0", False)])
def test_log_json_flag(raw: str, on: bool):
    assert settings_from_env({"SEREG_LOG_JSON": raw}).log_json is on


def test_empty_integer_env_means_default():
    assert settings_from_env({"SEREG_PORT": ""}).http.port == 8000


@pytest.mark.parametrize(
    "name", ["SEREG_DB_POOL_MIN", "SEREG_DB_POOL_MAX", "SEREG_PORT", "SEREG_INGEST_PIPELINE"]
)
@pytest.mark.parametrize("raw", ["ten", "1.5", "8000x", "0x10"])
def test_bad_integer_env_names_the_variable(name: str, raw: str):
    with pytest.raises(ValueError) as caught:
        settings_from_env({name: raw})
    assert name in str(caught.value)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize(
    ("name", "raw", "bounds"),
    [
        ("SEREG_INGEST_PIPELINE", "0", "at least 1"),
        ("SEREG_INGEST_PIPELINE", "-3", "at least 1"),
        ("SEREG_INGEST_BATCH", "0", "at least 1"),
        ("SEREG_INGEST_BATCH_MS", "-1", "at least 0"),
        ("SEREG_INGEST_RECEIVE_MAXIMUM", "0", "from 1 to 65535"),
        ("SEREG_INGEST_RECEIVE_MAXIMUM", "65536", "from 1 to 65535"),
        ("SEREG_LIFT_OFFLINE_AFTER_S", "0", "at least 1"),
        ("SEREG_DB_POOL_MAX", "0", "at least 1"),
        ("SEREG_DB_POOL_MIN", "-1", "at least 0"),
        ("SEREG_PORT", "70000", "from 1 to 65535"),
        ("SEREG_INGEST_METRICS_PORT", "-1", "from 0 to 65535"),
        ("SEREG_RETAIN_HEARTBEAT_DAYS", "0", "at least 1"),
        ("SEREG_FILL_MIN_REFILL_MINUTES", "-5", "at least 0"),
        # No longer than a plan may give, or a plan left to the default would be refused.
        ("SEREG_DRAW_PUBLISH_DAYS", "61", "from 1 to 60"),
    ],
)
def test_integer_env_out_of_bounds_is_refused_naming_the_variable(name, raw, bounds):
    with pytest.raises(ValueError, match=f"^{name} must be {bounds}, got '{raw}'$"):
        settings_from_env({name: raw})


@pytest.mark.parametrize(
    ("name", "raw", "read"),
    [
        ("SEREG_INGEST_PIPELINE", "1", lambda s: s.ingest.pipeline_depth),
        ("SEREG_INGEST_BATCH_MS", "0", lambda s: s.ingest.batch_wait_ms),
        ("SEREG_INGEST_RECEIVE_MAXIMUM", "65535", lambda s: s.ingest.receive_maximum),
        ("SEREG_DB_POOL_MIN", "0", lambda s: s.database.pool_min),
        ("SEREG_FILL_MIN_REFILL_MINUTES", "0", lambda s: s.fills.min_refill_minutes),
        ("SEREG_DRAW_PUBLISH_DAYS", "60", lambda s: s.draw.publish_working_days),
    ],
)
def test_integer_env_at_its_bounds_is_taken(name, raw, read):
    assert read(settings_from_env({name: raw})) == int(raw)


@pytest.mark.parametrize(
    ("url", "config"),
    [
        (
            "postgresql://sereg:s3cret@db.example:6543/register",
            {
                "host": "db.example",
                "port": 6543,
                "user": "sereg",
                "password": "s3cret",
                "database": "register",
            },
        ),
        (
            # %-escapes in the user and the password: @ : / % and a space
            "postgres://us%40er:p%40ss%3Aw%2Fo%25rd%20x@10.0.0.5/sereg",
            {
                "host": "10.0.0.5",
                "port": 5432,
                "user": "us@er",
                "password": "p@ss:w/o%rd x",
                "database": "sereg",
            },
        ),
        (
            "postgresql://[::1]:5433/x",
            {"host": "::1", "port": 5433, "user": "postgres", "database": "x"},
        ),
        (
            "postgresql:///",
            {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "postgres"},
        ),
        (
            "postgresql://u:@h/db",  # empty password: none sent
            {"host": "h", "port": 5432, "user": "u", "database": "db"},
        ),
    ],
)
def test_postgres_url_parsing(url: str, config: dict[str, object]):
    database = settings_from_env({"DATABASE_URL": url}).database
    assert database.is_postgres is True
    assert database.postgres_config() == config


@pytest.mark.parametrize(
    "url", ["mysql://u@h/db", "sqlite:///sereg.sqlite3", "http://h/db", "h:5432/db"]
)
def test_other_schemes_are_rejected(url: str):
    with pytest.raises(ValueError, match="postgresql://"):
        DatabaseSettings(url=url).postgres_config()


def test_empty_sqlite_path_means_default():
    assert settings_from_env({"SEREG_SQLITE_PATH": ""}).database.sqlite_path == (
        ROOT / "sereg.sqlite3"
    )


def test_the_default_sqlite_file_does_not_follow_the_current_directory(tmp_path, monkeypatch):
    # The checkout's root, wherever sereg is run from; a relative SEREG_SQLITE_PATH is
    # made absolute against the directory it was given in, so messages name the file.
    monkeypatch.chdir(tmp_path)
    assert settings_from_env({}).database.sqlite_path == ROOT / "sereg.sqlite3"
    relative = settings_from_env({"SEREG_SQLITE_PATH": "data/x.sqlite3"}).database.sqlite_path
    assert relative == tmp_path / "data" / "x.sqlite3"


def test_bad_port_in_database_url_names_the_variable():
    with pytest.raises(ValueError, match="DATABASE_URL"):
        DatabaseSettings(url="postgresql://h:abc/db").postgres_config()


def test_sslmode_in_database_url_is_honoured_or_refused():
    database = DatabaseSettings(url="postgresql://u:p@db.example/sereg?sslmode=require")
    try:
        config = database.postgres_config()
    except ValueError:
        return
    assert "ssl" in config


def test_an_installed_copy_keeps_its_sqlite_file_in_the_users_data_directory(tmp_path, monkeypatch):
    # No checkout around the code (a wheel in site-packages): not the current directory,
    # but one place per user.
    import equipment.settings

    monkeypatch.setattr(equipment.settings, "_CHECKOUT", tmp_path)
    assert equipment.settings.default_sqlite_path({"XDG_DATA_HOME": "/data"}) == Path(
        "/data/sereg/sereg.sqlite3"
    )
    assert equipment.settings.default_sqlite_path({"HOME": "/home/u"}) == Path(
        "/home/u/.local/share/sereg/sereg.sqlite3"
    )


def test_public_settings_default_to_96333_and_this_server():
    settings = settings_from_env({"SEREG_HOST": "0.0.0.0", "SEREG_PORT": "8080"})
    assert settings.public.emergency_number == "96333"
    assert settings.public_base_url() == "http://127.0.0.1:8080"
    assert settings.public.form_secret is None
    assert (settings.public.reports_per_client_hour, settings.public.reports_per_unit_hour) == (
        5,
        20,
    )


def test_public_settings_from_env():
    settings = settings_from_env(
        {
            "SEREG_PUBLIC_BASE_URL": "https://tzsb.example.gov.cn/",
            "SEREG_EMERGENCY_NUMBER": "0710-96333",
            "SEREG_FORM_SECRET": "s3cret",
            "SEREG_REPORTS_PER_CLIENT_HOUR": "3",
            "SEREG_REPORTS_PER_UNIT_HOUR": "9",
        }
    )
    assert settings.public_base_url() == "https://tzsb.example.gov.cn"
    assert settings.public.emergency_number == "0710-96333"
    assert settings.public.form_secret == "s3cret"
    assert settings.public.reports_per_client_hour == 3
    assert settings.public.reports_per_unit_hour == 9


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEREG_PUBLIC_BASE_URL", "tzsb.example.gov.cn"),
        ("SEREG_PUBLIC_BASE_URL", "ftp://tzsb.example.gov.cn"),
        ("SEREG_EMERGENCY_NUMBER", "call us"),
        ("SEREG_REPORTS_PER_CLIENT_HOUR", "0"),
    ],
)
def test_bad_public_settings_stop_the_start(name, value):
    with pytest.raises(ValueError, match=name):
        settings_from_env({name: value})


def test_map_tiles_default_to_none_and_their_crs_is_checked():
    assert settings_from_env({}).map.tile_url is None
    configured = settings_from_env(
        {"SEREG_MAP_TILE_URL": "https://t.example/{z}/{x}/{y}.png", "SEREG_MAP_TILE_CRS": "GCJ02"}
    ).map
    assert (configured.tile_crs, configured.tile_max_zoom) == ("gcj02", 18)
    with pytest.raises(ValueError, match="SEREG_MAP_TILE_CRS"):
        settings_from_env({"SEREG_MAP_TILE_CRS": "bd09"})
    with pytest.raises(ValueError, match="SEREG_MAP_TILE_URL"):
        settings_from_env({"SEREG_MAP_TILE_URL": "file:///tiles/{z}/{x}/{y}.png"})


def test_the_daily_risk_grading_hour():
    assert settings_from_env({}).notify.risk_daily_hour == 2
    assert settings_from_env({"SEREG_RISK_DAILY_HOUR": "0"}).notify.risk_daily_hour == 0
    assert settings_from_env({"SEREG_RISK_DAILY_HOUR": "off"}).notify.risk_daily_hour is None
    for wrong in ("24", "-1", "noon"):
        with pytest.raises(ValueError, match="SEREG_RISK_DAILY_HOUR"):
            settings_from_env({"SEREG_RISK_DAILY_HOUR": wrong})
