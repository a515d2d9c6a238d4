"""No Docker engine runs here, so check docker-compose.yml against the settings instead."""

import re
from pathlib import Path

import yaml

from mvsite import env as env_module

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def _settings_env_names() -> set[str]:
    source = "".join((ROOT / "mvsite" / name).read_text() for name in ("env.py", "settings.py"))
    return set(re.findall(r'env_(?:str|bool|int|float|list|choice)\(\s*"([A-Z0-9_]+)"', source))


def test_services_and_images():
    assert set(SERVICES) == {"db", "redis", "web", "worker"}
    assert SERVICES["db"]["image"].startswith("pgvector/pgvector:")
    assert "pg18" in SERVICES["db"]["image"]
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert SERVICES["web"]["build"] == "." and SERVICES["worker"]["build"] == "."


def test_commands():
    assert "gunicorn mvsite.wsgi:application" in SERVICES["web"]["command"]
    assert "migrate" in SERVICES["web"]["command"]
    worker = SERVICES["worker"]["command"]
    assert worker[:3] == ["python", "manage.py", "rqworker"]
    assert {"default", "extract", "train"} <= set(worker)
    assert "--with-scheduler" in worker  # retries and delayed training need the scheduler


def test_workers_are_pipeline_workers_with_time_to_finish_a_stage():
    from django.conf import settings

    from pipeline.stages import STAGES

    assert settings.RQ["WORKER_CLASS"] == "pipeline.worker.PipelineWorker"
    grace = re.fullmatch(r"(\d+)m", SERVICES["worker"]["stop_grace_period"])
    longest = max(stage.timeout_for(settings.MAX_VIDEO_SECONDS) for stage in STAGES)
    assert grace and int(grace.group(1)) * 60 >= longest


def test_app_environment_names_are_settings_we_read():
    known = _settings_env_names() | {"SPOTIPY_CLIENT_ID", "SPOTIPY_CLIENT_SECRET"}
    for name in ("web", "worker"):
        environment = SERVICES[name]["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"} <= set(environment)
        unknown = set(environment) - known
        assert not unknown, f"{name} sets env vars no setting reads: {unknown}"


def test_urls_point_at_compose_services():
    environment = SERVICES["web"]["environment"]
    assert "@db:5432/" in environment["DATABASE_URL"]
    target = env_module.parse_redis_url(environment["REDIS_URL"])
    assert (target.host, target.port) == ("redis", 6379)


def test_data_and_media_volumes():
    assert set(COMPOSE["volumes"]) == {"pgdata", "redisdata", "media"}
    assert "media:/data/media" in SERVICES["web"]["volumes"]
    assert SERVICES["web"]["environment"]["MEDIA_ROOT"] == "/data/media"


def test_the_worker_service_scales():
    """`docker compose up --scale worker=N` (docs/architecture.md): N containers of one service
    need no fixed name, host port or host name, and share everything they keep."""
    worker = SERVICES["worker"]
    for key in ("container_name", "ports", "hostname", "network_mode"):
        assert key not in worker, f"worker sets {key}: a second replica would clash"
    assert worker.get("deploy", {}).get("replicas", 1) >= 1
    # Shared state only: named volumes (the media volume every replica and web mount; or the
    # S3 bucket), the queues in the redis service, the rows in the db service.
    for mount in worker.get("volumes", []):
        source = mount.split(":", 1)[0]
        assert source in COMPOSE["volumes"], f"{mount}: not a shared named volume"
    assert "media:/data/media" in worker["volumes"]
    environment = worker["environment"]
    assert environment == SERVICES["web"]["environment"]  # one configuration for both
    assert env_module.parse_redis_url(environment["REDIS_URL"]).host == "redis"
    assert "@db:5432/" in environment["DATABASE_URL"]
    assert {"MVSIM_STORAGE", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL"} <= set(environment)
    assert set(worker["depends_on"]) == {"db", "redis"}


def test_app_runs_in_production_mode_with_required_secrets():
    for name in ("web", "worker"):
        environment = SERVICES[name]["environment"]
        assert environment["MVSIM_ENV"] == "production"
        assert "DEBUG" not in environment  # production mode turns it off and refuses DEBUG=1
        for required in ("SECRET_KEY", "ALLOWED_HOSTS"):
            assert ":?" in environment[required], f"{name}: {required} must be required"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ENV .*\bMVSIM_ENV=production\b", dockerfile, re.M)


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ${NAME:?message} / ${NAME:-default}, with `given` as the .env file."""

    def one(match: re.Match) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if given.get(name):
            return given[name]
        assert op == ":-", f"{name} is required: {rest}"
        return rest

    return re.sub(r"\$\{([A-Z_]+)(:[?-])([^}]*)\}", one, value)


def test_compose_web_environment_passes_check_deploy():
    """The web service's environment as compose resolves it from a minimal .env file."""
    import os
    import secrets
    import subprocess
    import sys

    dotenv = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "POSTGRES_PASSWORD": "pw",
        "ALLOWED_HOSTS": "mvsim.example.org",
    }
    resolved = {k: _interpolate(str(v), dotenv) for k, v in SERVICES["web"]["environment"].items()}
    environment = {k: v for k, v in os.environ.items() if k not in resolved}
    environment.update(resolved, DJANGO_SETTINGS_MODULE="mvsite.settings", MEDIA_ROOT="/tmp")
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
