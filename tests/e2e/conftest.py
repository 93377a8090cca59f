"""A Chromium for the browser tests: one already on the machine, else installed here
(Debian's `chromium` with apt, else Playwright's own build), else the tests are skipped
with what was tried. Every candidate is launched once before it is taken, so a browser
that is present but cannot start is not mistaken for one that works.

Playwright's sync API runs in a thread of its own (`in_browser_thread`): it refuses a
thread with a running event loop, and pytest-asyncio's loops must not see its own."""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
APT_TIMEOUT = 600
DOWNLOAD_TIMEOUT = 600
T = TypeVar("T")


@dataclass(frozen=True)
class Chromium:
    """How to launch a working Chromium: `executable` None is Playwright's own build."""

    executable: str | None
    source: str
    args: list[str] = field(default_factory=list)

    def launch_options(self) -> dict:
        return {"headless": True, "executable_path": self.executable, "args": self.args}


def in_browser_thread(function: Callable[..., T], *args) -> T:
    """Run `function(*args)` in a fresh thread and return its result (or raise its
    error). Playwright's own timeouts bound how long it can take."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser") as pool:
        return pool.submit(function, *args).result()


def _sandbox_args() -> list[str]:
    # Chromium's sandbox refuses to run as root; CI and these machines run as root.
    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    return args


def _launch_error(chromium: Chromium) -> str | None:
    """None when the browser starts and renders a page, else why not."""

    def probe() -> str:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**chromium.launch_options(), timeout=30_000)
            try:
                page = browser.new_page()
                page.set_content("<p>ready</p>")
                return page.inner_text("p")
            finally:
                browser.close()

    try:
        answer = in_browser_thread(probe)
    except Exception as exc:  # any failure means "not usable"; the report says why
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
    return None if answer == "ready" else f"rendered {answer!r}"


def _run(command: list[str], timeout: int) -> str | None:
    """None when the command succeeded, else the end of what it printed."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode == 0:
        return None
    lines = (done.stdout + done.stderr).strip().splitlines() or [""]
    # apt says "E: ...", Playwright "Error: ..." before its stack: the last such line.
    errors = [line.strip() for line in lines if line.lstrip().startswith(("E:", "Error"))]
    return f"exit {done.returncode}: {errors[-1] if errors else lines[-1].strip()}"


def _apt_install_chromium() -> str | None:
    """Install Debian's chromium; None on success, else why not. The package lists may
    be missing or stale on a new machine, so a failed install is retried after an
    update. Waits for another apt run's lock rather than failing on it."""
    if shutil.which("apt-get") is None:
        return "apt-get is not on this machine"
    prefix = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return "not root and no sudo"
        prefix = ["sudo", "-n"]
    apt = [*prefix, "apt-get", "-o", "DPkg::Lock::Timeout=120", "-q"]
    install = [*apt, "install", "-y", "--no-install-recommends", "chromium"]
    if _run(install, APT_TIMEOUT) is None:
        return None
    updated = _run([*apt, "update"], APT_TIMEOUT)
    failed = _run(install, APT_TIMEOUT)
    if failed is None:
        return None
    return f"{failed}" + (f" (apt-get update: {updated})" if updated else "")


def _playwright_install_chromium() -> str | None:
    return _run([sys.executable, "-m", "playwright", "install", "chromium"], DOWNLOAD_TIMEOUT)


def find_chromium() -> tuple[Chromium | None, list[str]]:
    """The first Chromium that launches, trying those present before installing one;
    with the list of what was tried and how it went."""
    tried: list[str] = []
    args = _sandbox_args()

    def works(candidate: Chromium) -> bool:
        error = _launch_error(candidate)
        tried.append(f"{candidate.source}: {'launched' if error is None else error}")
        return error is None

    present = []
    if os.environ.get("PLAYWRIGHT_CHROMIUM"):
        present.append(Chromium(os.environ["PLAYWRIGHT_CHROMIUM"], "$PLAYWRIGHT_CHROMIUM", args))
    for name in (DEBIAN_CHROMIUM, shutil.which("chromium"), shutil.which("chromium-browser")):
        if name and Path(name).exists() and all(c.executable != name for c in present):
            present.append(Chromium(name, name, args))
    for candidate in present:
        if works(candidate):
            return candidate, tried
    playwrights_own = Chromium(None, "Playwright's own Chromium", args)
    if works(playwrights_own):
        return playwrights_own, tried

    error = _apt_install_chromium()
    tried.append(f"apt-get install chromium: {'installed' if error is None else error}")
    debian = Chromium(DEBIAN_CHROMIUM, f"{DEBIAN_CHROMIUM} (installed with apt)", args)
    if error is None and works(debian):
        return debian, tried

    error = _playwright_install_chromium()
    tried.append(f"playwright install chromium: {'installed' if error is None else error}")
    if error is None and works(playwrights_own):
        return playwrights_own, tried
    return None, tried


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """A Chromium that launches here, installed on first use if need be."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("the browser tests need playwright (pip install -r requirements-dev.txt)")
    found, tried = find_chromium()
    if found is None:
        pytest.skip("no Chromium could be found or installed; tried: " + "; ".join(tried))
    print(f"\nbrowser tests use {found.source} ({'; '.join(tried)})")
    return found


@pytest.fixture
def screenshots(request) -> Path:
    """This test's folder under test-artifacts/browser/, emptied of a previous run's."""
    folder = ARTIFACTS / request.node.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder
