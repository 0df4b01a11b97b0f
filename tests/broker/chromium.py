"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`):
standard library only, no port, no websocket. Starts Debian's chromium as the report's test
does (tests/reporting/test_html_in_chromium.py), with every host but 127.0.0.1 unresolvable,
so a page that reaches for a CDN fails here as it would offline."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

# Debian's chromium here; on GitHub's runners, the Chrome they come with.
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT_S = 60


def find_chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Browser:
    """One chromium process; `open` loads a page in a new tab of the given width."""

    def __init__(self, chromium: str, profile: Path) -> None:
        # Chromium reads commands from fd 3 and writes answers to fd 4, each NUL-terminated.
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        child_fds = {3: to_browser_read, 4: from_browser_write}

        def wire_fds() -> None:
            # In the child, before exec. The pipe ends may already sit on fds 3 or 4 (or on
            # each other's target), so each is first copied above 9, then onto its target:
            # dup2 makes 3 and 4 inheritable; every other fd Python opened is close-on-exec.
            copies = [fcntl.fcntl(source, fcntl.F_DUPFD, 10) for source in child_fds.values()]
            for target, copy in zip(child_fds, copies, strict=True):
                os.dup2(copy, target)
                os.close(copy)

        self._process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                # Offline but for the loopback: a CDN asset fails to load as without internet.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=wire_fds,
            # close_fds would run after preexec_fn and close fds 3 and 4 again.
            close_fds=False,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError):
            self._process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._process.wait(timeout=TIMEOUT_S)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read_message()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result

    def open(self, url: str, width: int, height: int = 900) -> Page:
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session, url=url)
        page = Page(self, session)
        page.wait_for("document.readyState === 'complete'")
        return page


class Page:
    def __init__(self, browser: Browser, session: str) -> None:
        self._browser = browser
        self._session = session

    def evaluate(self, expression: str) -> Any:
        answer = self._browser.call(
            "Runtime.evaluate", self._session, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = TIMEOUT_S) -> bool:
        """Whether `expression` became true within `timeout` (polled: scripts render late)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(f"Boolean({expression})"):
                return True
            time.sleep(0.1)
        return False

    def screenshot(self, path: Path) -> None:
        """The whole page, not just the window: what a reader scrolls through."""
        data = self._browser.call(
            "Page.captureScreenshot", self._session, format="png", captureBeyondViewport=True
        )["data"]
        path.write_bytes(base64.b64decode(data))
