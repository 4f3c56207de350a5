"""Start a Gecko application (Firefox ESR, Thunderbird) on a throw-away profile and drive
it through Marionette (PyPI `marionette-driver`).

The profile asks for Marionette on a free port (`marionette.port` 0); the application
writes the port it got to `MarionetteActivePort` in the profile, which is how we find
it: no fixed port, so engineers and CI jobs never collide. Every request for the
network goes to a closed loopback port (the discard port), so nothing leaves the
machine and nothing waits on a time-out.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.panes import Unavailable, die_with_parent

# Where nothing listens: every proxied request fails at once.
_NOWHERE = {"network.proxy.type": 1, "network.proxy.http": "127.0.0.1",
            "network.proxy.http_port": 9, "network.proxy.ssl": "127.0.0.1",
            "network.proxy.ssl_port": 9, "network.proxy.socks": "127.0.0.1",
            "network.proxy.socks_port": 9, "network.proxy.socks_remote_dns": True,
            "network.proxy.no_proxies_on": "", "network.proxy.allow_hijacking_localhost": True}
# Quiet start-up: no update, telemetry, first-run pages or smooth scrolling.
COMMON_PREFS: dict[str, Any] = _NOWHERE | {
    "marionette.port": 0,
    "app.update.disabledForTesting": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "general.smoothScroll": False,
    "layout.css.devPixelsPerPx": "1.0",
    "ui.prefersReducedMotion": 1,
}
_START_TIMEOUT = 90.0


class Application:
    """One running application and its Marionette session."""

    def __init__(self, command: list[str], profile: Path, prefs: dict[str, Any],
                 capabilities: dict[str, Any] | None = None) -> None:
        from marionette_driver.marionette import Marionette

        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items()))
        port_file = profile / "MarionetteActivePort"
        port_file.unlink(missing_ok=True)
        self.log = profile / "application.log"
        with self.log.open("wb") as log:
            # A session of its own: stop() ends this process group, nothing else.
            self.process = subprocess.Popen(
                [*command, "--marionette", "--no-remote", "--profile", str(profile)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                preexec_fn=die_with_parent, env=os.environ | {"MOZ_CRASHREPORTER_DISABLE": "1"})
        deadline = time.monotonic() + _START_TIMEOUT
        while not port_file.is_file() or not port_file.read_text().strip():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Unavailable(f"{command[0]} did not start Marionette; see {self.log}")
            time.sleep(0.05)  # waiting on another process: no clock to inject
        try:
            self.client = Marionette(host="127.0.0.1", port=int(port_file.read_text()))
            self.client.start_session(capabilities)
        except Exception:
            self.stop()
            raise

    def use(self, handle: str) -> Any:
        """The Marionette client, switched to the window `handle` (each pane is a window:
        commands go to the current one)."""
        if handle != getattr(self, "current", None):
            self.client.switch_to_window(handle, focus=False)
            self.current = handle
        return self.client

    def stop(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            with contextlib.suppress(Exception):  # the application may be gone already
                client.delete_session()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
