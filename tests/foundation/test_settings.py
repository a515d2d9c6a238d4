import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mvsite import env

ROOT = Path(__file__).resolve().parents[2]


def test_database_url_parsing(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://mv:s3cret@db.internal:6543/mvsim_prod")
    monkeypatch.delenv("MVSIM_DB_NAME", raising=False)
    monkeypatch.delenv("MVSIM_TEST_DB_NAME", raising=False)
    config = env.database_config()
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 6543, "mvsim_prod")
    assert (config["USER"], config["PASSWORD"]) == ("mv", "s3cret")
    assert config["TEST"]["NAME"] == "test_mvsim_prod"


def test_embedded_database_uses_reported_socket_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MVSIM_VAR_DIR", str(tmp_path))
    pgdata = tmp_path / "postgres"
    pgdata.mkdir()
    (pgdata / "postmaster.pid").write_text(
        "123\n/x\n1700000000\n5432\n/tmp/python_PostgresServer/abc\n\n  0 1\nready\n"
    )
    assert env.database_config()["HOST"] == "/tmp/python_PostgresServer/abc"


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///db.sqlite3"], ids=["mysql", "sqlite"])
def test_non_postgres_database_url_rejected(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(env.ConfigError, match="only PostgreSQL"):
        env.database_config()


def test_redis_url_parsing():
    target = env.parse_redis_url("redis://:pw@cache:6380/3")
    assert (target.host, target.port, target.db, target.password) == ("cache", 6380, 3, "pw")
    assert env.parse_redis_url("redis://localhost").port == 6379


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://cache:6379/0", "scheme"),
        ("redis://cache:6379/x", "database"),
        ("redis:///0", "host"),
    ],
)
def test_bad_redis_url(url, message):
    with pytest.raises(env.ConfigError, match=message):
        env.parse_redis_url(url)


def test_embedded_redis_default(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("MVSIM_REDIS_PORT", "7001")
    monkeypatch.setenv("MVSIM_REDIS_DB", "2")
    target = env.redis_target()
    assert target.embedded and target.url == "redis://127.0.0.1:7001/2"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("DEBUG", "maybe", "not a boolean"), ("MVSIM_SEGMENT_SECONDS", "ten", "not a number")],
)
def test_bad_values_give_one_clear_line(name, value, message):
    result = _manage(["check"], {name: value})
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_dev_secret_key_generated_once(monkeypatch, tmp_path):
    monkeypatch.setenv("MVSIM_VAR_DIR", str(tmp_path))
    first = env.dev_secret_key()
    assert len(first) > 40 and env.dev_secret_key() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(args: list[str], extra_env: dict) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mvsite.settings", **extra_env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_database_gives_one_clear_line():
    port = _closed_port()
    result = _manage(["migrate", "--check"], {"DATABASE_URL": f"postgres://u@127.0.0.1:{port}/x"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mvsim: PostgreSQL is not reachable at 127.0.0.1")
    assert "services up" in lines[0]


@pytest.mark.django_db
def test_missing_redis_gives_one_clear_line():
    port = _closed_port()
    result = _manage(["rqstats"], {"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mvsim: Redis is not reachable at redis://127.0.0.1:{port}/0")
