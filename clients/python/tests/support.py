"""What the tests share: the CLI, a real server on 127.0.0.1 with tokens, isolated
environments, and the two ways in (a team server, the local store through the private
server) as a mixin every behaviour test runs under."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import uuid
from typing import Any, Dict, Iterator, List, Optional

import modelreg

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def cli() -> List[str]:
    """The modelreg CLI the tests run: MODELREG_CLI, else this repository's bin/run.js."""
    if not os.environ.get("MODELREG_CLI"):
        os.environ["MODELREG_CLI"] = os.path.join(ROOT, "bin", "run.js")
    return modelreg.find_cli()


def temp_dir(test: unittest.TestCase, prefix: str = "modelreg-py-") -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    test.addCleanup(shutil.rmtree, path, True)
    return path


@contextlib.contextmanager
def environment(**values: Optional[str]) -> Iterator[None]:
    """os.environ with these MODELREG_* (and other) values for the block; None removes one."""
    saved = dict(os.environ)
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def isolated_env(base: str) -> Dict[str, Optional[str]]:
    """A user of their own: config dir, store, author; no server configured."""
    return {
        "XDG_CONFIG_HOME": os.path.join(base, "xdg"),
        "MODELREG_CONFIG": None,
        "MODELREG_HOME": os.path.join(base, "store"),
        "MODELREG_AUTHOR": "tester@example.com",
        "MODELREG_URL": None,
        "MODELREG_TOKEN": None,
        "MODELREG_PROJECT": None,
        "MODELREG_PROFILE": None,
        "MODELREG_BACKEND": None,
    }


def unique(prefix: str = "p") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class TeamServer:
    """`modelreg server start` over a data directory, with an admin and a read token."""

    def __init__(self, data_dir: str) -> None:
        self.data_dir = data_dir
        self.port = 0
        self.url = ""
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.admin_token = self._token("admin", "admin")
        self.read_token = self._token("reader", "read")

    def _token(self, name: str, scope: str) -> str:
        done = subprocess.run(cli() + ["server", "tokens", "create", "--name", name, "--scope", scope, "--data-dir", self.data_dir, "--json"], capture_output=True, text=True, check=True)
        return str(json.loads(done.stdout)["token"])

    def start(self) -> None:
        env = dict(os.environ)
        env.pop("MODELREG_SERVER_CONFIG", None)
        self.process = subprocess.Popen(
            cli() + ["server", "start", "--data-dir", self.data_dir, "--host", "127.0.0.1", "--port", str(self.port), "--json", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env,
        )
        assert self.process.stdout is not None
        banner = json.loads(self.process.stdout.readline())
        self.url = banner["url"]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def openapi(self) -> Dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/api/v1/openapi.json", timeout=30) as response:
            return json.load(response)  # type: ignore[no-any-return]


class Backend:
    """A mixin: `self.connect()` gives a Registry on this class's backend, in a project of
    the test's own. Subclasses pick a team server or the local store."""

    backend = ""
    base = ""
    _env: Any = None

    @classmethod
    def setUpClass(cls) -> None:
        cls.base = tempfile.mkdtemp(prefix=f"modelreg-py-{cls.backend}-")
        cls._env = environment(**isolated_env(cls.base))
        cls._env.__enter__()
        cls.setUpBackend()

    @classmethod
    def setUpBackend(cls) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def tearDownClass(cls) -> None:
        try:
            cls.tearDownBackend()
        finally:
            cls._env.__exit__(None, None, None)
            shutil.rmtree(cls.base, ignore_errors=True)

    @classmethod
    def tearDownBackend(cls) -> None:
        pass

    def connect(self, project: Optional[str] = None, **options: Any) -> modelreg.Registry:  # pragma: no cover - overridden
        raise NotImplementedError

    def new_registry(self, **options: Any) -> modelreg.Registry:
        """A registry in a project of this test's own, closed after the test."""
        registry = self.connect(project=unique("proj"), **options)
        self.addCleanup(registry.close)  # type: ignore[attr-defined]
        return registry


class OnTeamServer(Backend):
    backend = "server"
    server: TeamServer

    @classmethod
    def setUpBackend(cls) -> None:
        cls.server = TeamServer(os.path.join(cls.base, "server-data"))
        cls.server.start()

    @classmethod
    def tearDownBackend(cls) -> None:
        cls.server.stop()

    def connect(self, project: Optional[str] = None, **options: Any) -> modelreg.Registry:
        options.setdefault("token", self.server.admin_token)
        return modelreg.connect(url=self.server.url, project=project, **options)


class OnLocalStore(Backend):
    backend = "local"

    @classmethod
    def setUpBackend(cls) -> None:
        cli()  # MODELREG_CLI set for the private server

    def connect(self, project: Optional[str] = None, **options: Any) -> modelreg.Registry:
        return modelreg.connect(project=project, **options)


def run_python(code: str, env: Optional[Dict[str, Optional[str]]] = None, timeout: float = 300, cwd: Optional[str] = None) -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    """Run a script in a fresh interpreter (this one, so the same modelreg) with os.environ
    plus `env`."""
    child = dict(os.environ)
    for key, value in (env or {}).items():
        if value is None:
            child.pop(key, None)
        else:
            child[key] = value
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=child, cwd=cwd)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def wait_gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


cli()  # every test (and the scripts they start) uses this repository's CLI unless told otherwise
