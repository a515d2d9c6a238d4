import os
import socket
import subprocess
import sys
from pathlib import Path

from mvsite import services

ROOT = Path(__file__).resolve().parents[2]


def _manage(args, extra_env=None):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "mvsite.settings", **(extra_env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_services_up_is_idempotent_and_status_reports(_redis_ready):
    first = _manage(["services", "up"])
    second = _manage(["services", "up"])
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    status = _manage(["services", "status"])
    lines = status.stdout.splitlines()
    assert lines[0].split()[:3] == ["postgres", "running", "embedded"]
    assert lines[1].split()[:3] == ["redis", "running", "embedded"]
    # The same server both times: the pid did not change.
    assert first.stdout.splitlines()[0] == second.stdout.splitlines()[0]


def test_port_taken_by_another_process_is_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = _manage(
            ["services", "up"], {"MVSIM_REDIS_PORT": str(port), "MVSIM_VAR_DIR": str(tmp_path)}
        )
    # The database part may start fine in tmp_path; Redis must refuse with a clear message.
    subprocess.run(
        [sys.executable, "manage.py", "services", "down"],
        cwd=ROOT,
        env={**os.environ, "MVSIM_VAR_DIR": str(tmp_path), "MVSIM_REDIS_PORT": str(port)},
        capture_output=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_line_format():
    line = services.ServiceStatus("redis", True, True, "127.0.0.1:6390/0", "pid 42").line()
    assert line.split() == ["redis", "running", "embedded", "127.0.0.1:6390/0", "(pid", "42)"]
