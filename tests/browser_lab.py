"""A JupyterLab server from the kit's environment and a headless Chromium driven
by Playwright, for tests/test_browser.py.

The server runs on 127.0.0.1 with a random port and token in a folder of the
test's own, with its own settings (no news or update toasts), workspaces and
runtime folders; it is stopped by its process id.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Optional

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]
#: JupyterLab's notification settings: no news feed, no update check (their toasts would cover screenshots).
#: And every cell in the page (no windowing), so that outputs far down can be found and shot.
QUIET_SETTINGS = {"@jupyterlab/apputils-extension/notification.jupyterlab-settings":
                  {"fetchNews": "false", "checkForUpdates": False},
                  "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"}}


def find_chromium() -> Optional[str]:
    """A Chromium executable: ``MILENAS_CHROMIUM``, else the first on PATH."""
    given = os.environ.get("MILENAS_CHROMIUM")
    if given:
        return given if Path(given).exists() else None
    return next((path for path in map(shutil.which, CHROMIUM_CANDIDATES) if path), None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LabServer:
    """``jupyter lab`` serving ``root`` (a context manager)."""

    def __init__(self, root: Path, state: Path, env: Optional[dict] = None):
        self.root, self.state = Path(root), Path(state)
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.extra_env = env or {}
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LabServer":
        settings = self.state / "settings"
        for name, values in QUIET_SETTINGS.items():
            path = settings / name  # <settings>/@scope/package/<plugin>.jupyterlab-settings
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.state / "workspaces"),
               "JUPYTER_RUNTIME_DIR": str(self.state / "runtime"), "JUPYTER_CONFIG_DIR": str(self.state / "config"),
               "OMP_NUM_THREADS": "1", **self.extra_env}
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
                   "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                   f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
                   "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
                   "--LabApp.extension_manager=readonly", "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI containers run as root
        self.log = open(self.state / "jupyter-lab.log", "w")
        self.process = subprocess.Popen(command, cwd=self.root, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.process.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return self
            except OSError:
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"jupyter lab did not answer within 120 s; see {self.log.name}")

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # its kernels are shut down with it
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


class LabPage:
    """One notebook open in the browser: run it, find widgets, read outputs."""

    def __init__(self, page, server: LabServer):
        self.page, self.server = page, server

    def open(self, notebook: str, timeout_s: float = 120) -> None:
        # A workspace of its own: only this notebook open (a shared one would restore earlier tabs).
        workspace = Path(notebook).stem
        self.page.goto(f"{self.server.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.server.token}")
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout_s * 1000)
        self.wait_idle(timeout_s)

    def wait_idle(self, timeout_s: float, all_run: bool = False) -> None:
        """Until the kernel is idle (and, with ``all_run``, every code cell has run)."""
        self.page.wait_for_function(
            """(allRun) => {
                const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const session = panel && panel.sessionContext && panel.sessionContext.session;
                if (!session || !session.kernel || session.kernel.status !== 'idle') return false;
                const cells = panel.content.widgets.filter(c => c.model.type === 'code');
                return !allRun || cells.every(c => c.model.executionCount !== null);
            }""", arg=all_run, timeout=timeout_s * 1000, polling=500)

    def run_all(self, timeout_s: float) -> None:
        # Run All acts on the active notebook: focus a cell first, or it silently does nothing.
        self.page.locator(".jp-Notebook .jp-Cell").first.click()
        self.page.evaluate("window.jupyterapp.commands.execute('runmenu:run-all')")
        self.wait_idle(timeout_s, all_run=True)

    def error_outputs(self) -> list[str]:
        """Texts of error outputs (a traceback renders as an output with ename)."""
        return self.page.evaluate(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const errors = [];
                for (const cell of panel.content.widgets) {
                    if (cell.model.type !== 'code') continue;
                    for (let i = 0; i < cell.model.outputs.length; i++) {
                        const output = cell.model.outputs.get(i).toJSON();
                        if (output.output_type === 'error') errors.push(output.ename + ': ' + output.evalue);
                    }
                }
                return errors;
            }""")

    def output_kinds(self) -> list[list[str]]:
        """Per code cell, the MIME types its outputs show (the model's view)."""
        return self.page.evaluate(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                return panel.content.widgets.filter(c => c.model.type === 'code').map(cell => {
                    const kinds = [];
                    for (let i = 0; i < cell.model.outputs.length; i++) {
                        const output = cell.model.outputs.get(i).toJSON();
                        kinds.push(...Object.keys(output.data || {}), output.output_type);
                    }
                    return kinds;
                });
            }""")

    def hide_left_area(self) -> None:
        """Collapse the file browser: the notebook (and its screenshots) get the width."""
        self.page.evaluate("""() => { const app = window.jupyterapp;
            if (!app.shell.leftCollapsed) return app.commands.execute('application:toggle-left-area'); }""")

    def widget_box(self, has: str):
        """The outermost widget box of an output that contains an element matching ``has``."""
        return self.page.locator(".jp-OutputArea-output > .widget-vbox", has=self.page.locator(has)).first

    @staticmethod
    def callback_errors(box) -> list[str]:
        """What the explorer's callbacks printed into its Output widget, if it looks like an error."""
        texts = box.locator(".widget-output").all_inner_texts()
        return [t for t in texts if "Error" in t or "Traceback" in t]
