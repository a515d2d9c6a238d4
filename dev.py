#!/usr/bin/env python3
"""One-stop set-up for a fresh clone: `python3.11 dev.py run` or `python3.11 dev.py test`.

Uses only the standard library, so it runs before any dependency is installed:
creates .venv, installs requirements.txt and requirements-nodeps.txt (again only when they
changed), starts the embedded PostgreSQL and Redis, migrates, and then runs the product or the
test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("MVSIM_VENV", ROOT / ".venv"))
PY = VENV / "bin" / "python"
REQUIREMENTS = ROOT / "requirements.txt"
# Packages whose metadata pins what we cannot use (musicnn: numpy<1.17); we need their data only.
REQUIREMENTS_NO_DEPS = ROOT / "requirements-nodeps.txt"
STAMP = VENV / ".mvsim-requirements.sha256"


def var_dir() -> Path:
    """Where runtime state lives: mvsite.env decides (it needs only the standard library)."""
    sys.path.insert(0, str(ROOT))
    from mvsite.env import var_dir as settings_var_dir

    return settings_var_dir()


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(args: list[str], **kwargs) -> None:
    result = subprocess.run(args, cwd=ROOT, **kwargs)
    if result.returncode != 0:
        sys.exit(f"dev.py: `{' '.join(map(str, args))}` failed with exit code {result.returncode}")


def manage(*args: str, env: dict | None = None) -> None:
    run([str(PY), "manage.py", *args], env=env)


def ensure_python() -> None:
    if sys.version_info[:2] != (3, 11):
        sys.exit(
            f"dev.py: mvsim needs Python 3.11 (this is {sys.version.split()[0]}); "
            "run it as `python3.11 dev.py ...`"
        )


def ensure_venv() -> None:
    if not PY.exists():
        say(f"creating virtualenv {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256(
        REQUIREMENTS.read_bytes() + REQUIREMENTS_NO_DEPS.read_bytes()
    ).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing requirements.txt (first run takes a few minutes)")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run([*pip, "-r", str(REQUIREMENTS)])
    run([*pip, "--no-deps", "-r", str(REQUIREMENTS_NO_DEPS)])
    STAMP.write_text(wanted)


def ensure_services(env: dict | None = None) -> None:
    say("starting PostgreSQL (+pgvector) and Redis")
    manage("services", "up", env=env)


def ensure_browser() -> None:
    """The browser tests drive Debian's Chromium; install it when we can (CI runs as root)."""
    if shutil.which("chromium") or os.environ.get("MVSIM_SKIP_BROWSER_INSTALL"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say("chromium not found and cannot install it here: browser tests will be skipped")
        return
    say("installing Debian's chromium for the browser tests")
    quiet = {"stdout": subprocess.DEVNULL}
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=apt_env, check=False, **quiet)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"], env=apt_env, check=False, **quiet
    )


def cmd_test(pytest_args: list[str]) -> int:
    ensure_venv()
    ensure_services()
    ensure_browser()
    say("running the test suite")
    args = [str(PY), "-m", "pytest", *pytest_args]
    code = subprocess.run(args, cwd=ROOT).returncode
    if code == 5:  # pytest: no tests collected is a failure for us
        print("dev.py: pytest collected no tests", file=sys.stderr)
        return 1
    return code


def cmd_run(host: str, port: int, skip_demo: bool) -> int:
    ensure_venv()
    ensure_services()
    say("applying migrations")
    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    manage("ensure_admin")
    log_dir = var_dir() / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    worker_log, server_log = log_dir / "worker.log", log_dir / "server.log"
    # Logs go to files; the worker prints one line per finished or failed video on stdout
    # (settings.LOGGING). Its stderr (TensorFlow's C++ start-up lines, a crash's traceback)
    # goes to its log file too, so the console keeps one line per event.
    with open(worker_log, "ab") as worker_err:
        worker = subprocess.Popen(
            [str(PY), "manage.py", "rqworker", "default", "extract", "train", "--with-scheduler"],
            cwd=ROOT,
            env={**os.environ, "MVSIM_LOG_FILE": str(worker_log)},
            stderr=worker_err,
        )
    with open(server_log, "ab") as server_out:
        server = subprocess.Popen(
            [str(PY), "manage.py", "runserver", f"{host}:{port}", "--noreload"],
            cwd=ROOT,
            env={**os.environ, "MVSIM_LOG_FILE": str(server_log)},
            stdout=server_out,
            stderr=subprocess.STDOUT,
        )
    time.sleep(1.5)
    say(f"mvsim is running at http://{host}:{port}/  (admin: http://{host}:{port}/admin/)")
    say(f"logs: {server_log} and {worker_log}; below, one line per processed video")
    if not skip_demo:
        # The site is already up; it shows the demo catalog's progress while this runs.
        code = subprocess.run([str(PY), "manage.py", "bootstrap_demo"], cwd=ROOT).returncode
        if code != 0:
            say("the demo catalog could not be built (see above); the site keeps running")
    say(
        "press Ctrl-C to stop the site and the worker (the database and Redis keep running; "
        "`.venv/bin/python manage.py services down` stops them)"
    )
    children = [server, worker]
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    return 0


def main() -> int:
    ensure_python()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="set up and run the site and one worker")
    run_parser.add_argument("--host", default=os.environ.get("MVSIM_HOST", "127.0.0.1"))
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("MVSIM_PORT", "8000")))
    run_parser.add_argument("--no-demo", action="store_true", help="don't build the demo catalog")
    test_parser = sub.add_parser("test", help="set up and run the whole test suite")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    # Everything after `test` goes to pytest untouched (argparse would read `-x` as its own).
    if len(sys.argv) > 1 and sys.argv[1] == "test":
        return cmd_test(sys.argv[2:])
    args = parser.parse_args()
    return cmd_run(args.host, args.port, args.no_demo)


if __name__ == "__main__":
    sys.exit(main())
