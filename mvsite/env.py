"""Every setting that comes from the environment is read here, and only here.

Unset values fall back to safe local defaults so a fresh clone runs with no configuration.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A setting from the environment has a value we cannot use."""


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (case-insensitive; unset or empty: the first)."""
    raw = os.environ.get(name, "")
    value = raw.strip().lower() or choices[0]
    if value not in choices:
        quoted = [f"'{choice}'" for choice in choices]
        allowed = f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        raise ConfigError(f"{name}={raw!r} must be {allowed}")
    return value


_RATE_PERIODS = {
    **dict.fromkeys(("s", "sec", "second"), "sec"),
    **dict.fromkeys(("m", "min", "minute"), "min"),
    **dict.fromkeys(("h", "hour"), "hour"),
    **dict.fromkeys(("d", "day"), "day"),
}


def env_rate(name: str, default: str | None) -> str | None:
    """A request rate for DRF throttling, "<count>/<period>" with period s, min, hour or day
    (e.g. "30/min"); "off" (or "0", "none") turns the limit off (None)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"off", "0", "none"}:
        return None
    count, _, period = value.partition("/")
    unit = _RATE_PERIODS.get(period.strip())
    if not count.strip().isdigit() or int(count) < 1 or unit is None:
        raise ConfigError(
            f"{name}={raw!r} is not a rate: use <count>/<period> with period s, min, hour or "
            "day (e.g. 30/min), or off"
        )
    return f"{int(count)}/{unit}"


def _root_only(path: Path) -> bool:
    """True when some parent of path cannot be entered by other users (e.g. /root)."""
    for parent in [path, *path.parents]:
        try:
            if parent.exists() and parent.stat().st_mode & 0o001 == 0:
                return True
        except OSError:
            return True
    return False


def var_dir() -> Path:
    """Runtime state (database files, Redis dump, dev secret key). Never committed.

    Default: var/ in the checkout. Started as root, the embedded PostgreSQL runs as the
    unprivileged user `embedded_postgres`, which cannot enter a checkout under a root-only
    directory such as /root; then the default moves to /var/lib/mvsim/<checkout hash>.
    """
    explicit = env_str("MVSIM_VAR_DIR")
    if explicit:
        return Path(explicit).resolve()
    default = BASE_DIR / "var"
    if hasattr(os, "geteuid") and os.geteuid() == 0 and _root_only(BASE_DIR):
        import hashlib

        digest = hashlib.sha256(str(BASE_DIR).encode()).hexdigest()[:10]
        return Path("/var/lib/mvsim") / digest
    return default


def dev_secret_key() -> str:
    """A secret key generated once per checkout and kept under var/ (not in git)."""
    path = var_dir() / "secret_key"
    if path.exists():
        key = path.read_text().strip()
        if key:
            return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


DEPLOYMENTS = ("development", "production")
DEV_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]


def deployment() -> str:
    """MVSIM_ENV: "development" (the default: a fresh clone runs) or "production"."""
    return env_choice("MVSIM_ENV", DEPLOYMENTS)


def debug(production: bool) -> bool:
    """DEBUG defaults to on in development and off in production, where it cannot be on."""
    value = env_bool("DEBUG", not production)
    if production and value:
        raise ConfigError(
            "DEBUG=1 is not allowed with MVSIM_ENV=production (debug pages show settings and code)"
        )
    return value


def secret_key(production: bool) -> str:
    """SECRET_KEY from the environment; in development a generated one under var/ otherwise."""
    key = env_str("SECRET_KEY").strip()
    if key:
        return key
    if production:
        raise ConfigError(
            "SECRET_KEY is not set: MVSIM_ENV=production needs one (50+ random characters)"
        )
    return dev_secret_key()


def allowed_hosts(production: bool) -> list[str]:
    hosts = env_list("ALLOWED_HOSTS", [])
    if hosts:
        return hosts
    if production:
        raise ConfigError(
            "ALLOWED_HOSTS is not set: MVSIM_ENV=production needs the site's host names "
            "(comma-separated)"
        )
    return list(DEV_ALLOWED_HOSTS)


def proxy_ssl_header() -> tuple[str, str] | None:
    """MVSIM_PROXY_SSL_HEADER names the header a TLS-terminating proxy sets to "https"
    (e.g. X-Forwarded-Proto), as Django's SECURE_PROXY_SSL_HEADER; unset: no proxy."""
    raw = env_str("MVSIM_PROXY_SSL_HEADER").strip()
    if not raw:
        return None
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", raw):
        raise ConfigError(
            f"MVSIM_PROXY_SSL_HEADER={raw!r} is not a header name (e.g. X-Forwarded-Proto)"
        )
    return ("HTTP_" + raw.upper().replace("-", "_"), "https")


@dataclass(frozen=True)
class RedisTarget:
    url: str
    host: str
    port: int
    db: int
    password: str | None
    embedded: bool


def parse_redis_url(url: str, *, embedded: bool = False) -> RedisTarget:
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        raise ConfigError(f"REDIS_URL={url!r}: scheme must be redis:// or rediss://")
    if not parsed.hostname:
        raise ConfigError(f"REDIS_URL={url!r}: no host")
    path = parsed.path.lstrip("/")
    try:
        db = int(path) if path else 0
    except ValueError:
        raise ConfigError(f"REDIS_URL={url!r}: database must be a number, got {path!r}") from None
    try:
        port = parsed.port or 6379
    except ValueError:
        raise ConfigError(f"REDIS_URL={url!r}: port is not a number") from None
    return RedisTarget(
        url=url, host=parsed.hostname, port=port, db=db, password=parsed.password, embedded=embedded
    )


def redis_target() -> RedisTarget:
    url = env_str("REDIS_URL")
    if url:
        return parse_redis_url(url)
    port = env_int("MVSIM_REDIS_PORT", 6390, minimum=1)
    db = env_int("MVSIM_REDIS_DB", 0, minimum=0)
    return parse_redis_url(f"redis://127.0.0.1:{port}/{db}", embedded=True)


def postgres_data_dir() -> Path:
    return var_dir() / "postgres"


def embedded_postgres_socket_dir() -> Path:
    """The socket directory the embedded server reported in postmaster.pid (line 5).

    embedded-postgres falls back to a runtime dir when the data path is too long for a Unix
    socket, so we never guess: we read what the running server wrote. Before the first start we
    return the data dir, and connecting fails with our clear "services up" message.
    """
    pid_file = postgres_data_dir() / "postmaster.pid"
    try:
        lines = pid_file.read_text().splitlines()
        if len(lines) >= 5 and lines[4].strip():
            return Path(lines[4].strip())
    except OSError:
        pass
    return postgres_data_dir()


def _parse_database_url(name: str, url: str) -> dict:
    import dj_database_url

    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        raise ConfigError(f"{name}={url!r}: only PostgreSQL URLs are supported")
    config = dj_database_url.parse(url, conn_max_age=60)
    config["ENGINE"] = "django.db.backends.postgresql"
    return config


def database_config() -> dict:
    """Django DATABASES['default'] from DATABASE_URL, or the embedded server."""
    url = env_str("DATABASE_URL")
    name_override = env_str("MVSIM_DB_NAME")
    if url:
        config = _parse_database_url("DATABASE_URL", url)
    else:
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "mvsim",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": str(embedded_postgres_socket_dir()),
            "PORT": "5432",
            "CONN_MAX_AGE": 60,
        }
    if name_override:
        config["NAME"] = name_override
    config.setdefault("OPTIONS", {})
    config["OPTIONS"].setdefault("connect_timeout", 5)
    config["TEST"] = {"NAME": env_str("MVSIM_TEST_DB_NAME", "test_" + config["NAME"])}
    return config


def replica_database_config() -> dict | None:
    """DATABASES['replica'] from DATABASE_REPLICA_URL (a read-only copy of the default database,
    e.g. a streaming-replication standby), or None when it is not set. Searches read from it
    (mvsite/db_routers.py). Under test it mirrors the default database: there is no second copy
    to create, and the test's rows are the ones to read."""
    url = env_str("DATABASE_REPLICA_URL").strip()
    if not url:
        return None
    config = _parse_database_url("DATABASE_REPLICA_URL", url)
    config.setdefault("OPTIONS", {})
    config["OPTIONS"].setdefault("connect_timeout", 5)
    config["TEST"] = {"MIRROR": "default"}
    return config


# --- storage of media and model artifacts (mvsite/storage.py) ---------------------------------

STORAGE_BACKENDS = ("local", "s3")
_FILESYSTEM = "django.core.files.storage.FileSystemStorage"
_S3 = "storages.backends.s3.S3Storage"


def storage_backend() -> str:
    """MVSIM_STORAGE: "local" (the default: files under MEDIA_ROOT) or "s3"."""
    return env_choice("MVSIM_STORAGE", STORAGE_BACKENDS)


def media_url(backend: str) -> str:
    """MEDIA_URL: where pages load media and thumbnails from. Local: /media/ (this site). S3:
    the bucket's public URL or a CDN in front of it, which must be given (pages link files
    by plain URL, not signed ones, so results pages stay cacheable)."""
    raw = env_str("MEDIA_URL").strip()
    if backend == "local":
        value = raw or "/media/"
    else:
        parsed = urlparse(raw)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ConfigError(
                f"MEDIA_URL={raw!r}: MVSIM_STORAGE=s3 needs the bucket's public URL (or a CDN's), "
                "e.g. https://media.example.org/"
            )
        value = raw
    return value if value.endswith("/") else value + "/"


def media_origin(url: str) -> str | None:
    """scheme://host[:port] of an absolute MEDIA_URL (for the Content-Security-Policy), or
    None when media come from this site."""
    parsed = urlparse(url)
    if parsed.scheme in {"http", "https"} and parsed.netloc:
        return f"{parsed.scheme}://{parsed.netloc}"
    return None


def storages_config(backend: str, media_url_value: str) -> dict:
    """Django's STORAGES. "default": media (uploads, downloads, thumbnails, the model's plots);
    "artifacts": what workers load (trained models, scalers, genre lists). Local: both are
    MEDIA_ROOT (no location given, so they follow MEDIA_ROOT when tests change it), the layout
    of before. S3: the bucket AWS_STORAGE_BUCKET_NAME; artifacts in MVSIM_ARTIFACTS_BUCKET when
    set (it may be private), else in the same bucket under models/."""
    staticfiles = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    if backend == "local":
        return {
            "default": {"BACKEND": _FILESYSTEM},
            "artifacts": {"BACKEND": _FILESYSTEM},
            "staticfiles": staticfiles,
        }
    bucket = env_str("AWS_STORAGE_BUCKET_NAME").strip()
    if not bucket:
        raise ConfigError("AWS_STORAGE_BUCKET_NAME is not set: MVSIM_STORAGE=s3 needs a bucket")
    common: dict = {
        "endpoint_url": env_str("AWS_S3_ENDPOINT_URL").strip() or None,
        "region_name": env_str("AWS_S3_REGION_NAME").strip() or None,
        # Thumbnails and artifacts have fixed names: a new one replaces the old object.
        "file_overwrite": True,
        "default_acl": None,
    }
    access_key, secret = env_str("AWS_ACCESS_KEY_ID"), env_str("AWS_SECRET_ACCESS_KEY")
    if access_key or secret:  # else boto3's own chain (instance role, ~/.aws)
        common.update(access_key=access_key, secret_key=secret)
    parsed = urlparse(media_url_value)
    media = {
        **common,
        "bucket_name": bucket,
        # Links are MEDIA_URL + name, unsigned: the bucket (or its CDN) is readable by browsers.
        "querystring_auth": False,
        "custom_domain": (parsed.netloc + parsed.path).rstrip("/"),
        "url_protocol": f"{parsed.scheme}:",
    }
    artifacts_bucket = env_str("MVSIM_ARTIFACTS_BUCKET").strip()
    artifacts = (
        {**common, "bucket_name": artifacts_bucket, "querystring_auth": True}
        if artifacts_bucket
        else media
    )
    return {
        "default": {"BACKEND": _S3, "OPTIONS": media},
        "artifacts": {"BACKEND": _S3, "OPTIONS": artifacts},
        "staticfiles": staticfiles,
    }
