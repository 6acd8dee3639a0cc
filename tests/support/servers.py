"""Starting the apps under gunicorn on a free local port, and a headless Chromium to look at them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts"


def _tail(log, size: int = 3000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_answering(process: subprocess.Popen, url: str, log, *, timeout: float, any_status: bool) -> None:
    """Poll `url` until it answers 200 (any HTTP status with `any_status`: a server that refuses anonymous
    requests); fail with the server's log if it exits or does not answer within `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[-1]} exited: {_tail(log)}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError as exc:
            if any_status and isinstance(exc, urllib.error.HTTPError):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{process.args[-1]} did not answer on {url} within {timeout} s: {_tail(log)}"
                ) from None
            time.sleep(0.3)


@contextlib.contextmanager
def _serving(
    command: list[str], env: dict[str, str], *, probe: str, timeout: float, any_status: bool = False
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Start `command` on a free port (in PORT, and for `{port}` in its arguments); once `probe` answers 200
    (or any status, with `any_status`), yield (URL, process)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        environment = {**os.environ, **env, "PORT": str(port)}
        arguments = [part.replace("{port}", str(port)) for part in command]
        process = subprocess.Popen(arguments, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_answering(process, url + probe, log, timeout=timeout, any_status=any_status)
            yield url, process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """Terminate `process`, killing it if it has not exited after 20 s."""
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def local_service(module: str, *arguments: str, probe: str, timeout: float = 30.0) -> Iterator[str]:
    """Run `python -m module arguments` (`{port}` in them: its free port) as a local stand-in for a cloud service,
    such as moto's S3 server or the Cloud Storage emulator; yield its URL once `probe` answers. As with `gunicorn`,
    a server that exits or does not answer within `timeout` s fails the test with its log."""
    with local_program([sys.executable, "-m", module], *arguments, probe=probe, timeout=timeout) as url:
        yield url


@contextlib.contextmanager
def local_program(
    command: list[str], *arguments: str, probe: str, timeout: float = 30.0, any_status: bool = False
) -> Iterator[str]:
    """Run `command arguments` as `local_service` runs a Python module (a program such as Azurite, installed by
    `make test`); with `any_status`, any HTTP answer to `probe` says it is up."""
    with _serving([*command, *arguments], {}, probe=probe, timeout=timeout, any_status=any_status) as (url, _):
        yield url


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], *, timeout: float = 60.0) -> Iterator[str]:
    """Serve `app` (module:variable) with gunicorn and the project's gunicorn.conf.py on a free port; yield its URL."""
    settings = {"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", "GUNICORN_TIMEOUT": "120", **env}
    with _serving(
        [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", app], settings, probe="/", timeout=timeout
    ) as (url, _):
        yield url


@contextlib.contextmanager
def browser_page(viewport: dict | None = None):
    """A Playwright page in Debian's headless Chromium; skips when Chromium is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport=viewport or {"width": 1440, "height": 1000})
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    return path


def procfile_command(name: str = "web") -> str:
    """The command of one Procfile process type, as the platform would run it."""
    procfile = ROOT / "Procfile"
    for line in procfile.read_text().splitlines():
        kind, sep, command = line.partition(":")
        if sep and kind.strip() == name:
            return command.strip()
    raise KeyError(f"no {name}: line in {procfile}")


@contextlib.contextmanager
def procfile_web(env: dict[str, str], *, timeout: float = 90.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run the Procfile's web command on a free port (PORT set, as on the PaaS); yield (URL, master process)."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    with _serving(
        ["bash", "-c", f"exec {procfile_command()}"], {**env, "PATH": path}, probe="/healthz", timeout=timeout
    ) as served:
        yield served


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's current worker processes."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def _open_sockets(pid: int) -> set[str]:
    """The `socket:[inode]` links among the open files of `pid`: none once it has exited; files closing are skipped."""
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return set()
    links = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            links.add(os.readlink(fd))
    return {link for link in links if link.startswith("socket:[")}


def connection_worker(master: int, port: int, client_port: int) -> int | None:
    """The worker of gunicorn `master` holding the server's end of the open local connection `client_port` -> `port`.

    A keep-alive connection stays with the worker that accepted it, so after
    a response this names the worker that answered it (None: no worker holds it).
    """
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
        if (local, remote) == (port, client_port):
            inodes.add(f"socket:[{fields[9]}]")
    return next((pid for pid in worker_pids(master) if inodes & _open_sockets(pid)), None)
