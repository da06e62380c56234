"""A private server over the local store: with no server URL configured, the client starts
``modelreg server start --no-auth --host 127.0.0.1 --port 0 --json`` over the store's
directory as a child process, talks HTTP to it, and stops it when the last registry using it
closes or the interpreter exits. On Linux the child is also told to stop if this process dies
without running its exit handlers (SIGKILL, an unhandled SIGTERM)."""
from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from typing import IO, Any, Callable, Dict, List, Optional

from ._errors import RegistryError

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


def find_cli(env: Optional[Dict[str, str]] = None) -> List[str]:
    """The command that runs the modelreg CLI: MODELREG_CLI, else `modelreg` on PATH."""
    env = dict(os.environ) if env is None else env
    named = env.get("MODELREG_CLI")
    if named:
        path = os.path.abspath(os.path.expanduser(named))
        if not os.path.isfile(path):
            found = shutil.which(named, path=env.get("PATH"))
            if not found:
                raise RegistryError("unavailable", f"MODELREG_CLI names {named}, which does not exist; point it at the modelreg CLI (its bin/run.js) or unset it")
            path = found
        if path.endswith((".js", ".mjs", ".cjs")) and not os.access(path, os.X_OK):
            node = shutil.which("node", path=env.get("PATH")) or "node"
            return [node, path]
        return [path]
    found = shutil.which("modelreg", path=env.get("PATH"))
    if not found:
        raise RegistryError(
            "unavailable",
            "no server URL is configured, and the modelreg CLI that serves the local store was not found: "
            "put `modelreg` on PATH (npm install -g modelreg, or npm link in its clone), set MODELREG_CLI "
            "to its bin/run.js, or set MODELREG_URL to use a server",
        )
    return [found]


def _parent_death_hook() -> Optional[Callable[[], None]]:
    """preexec_fn that asks Linux to SIGTERM the child when its parent goes away."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call: stop now
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


class LocalServer:
    """One child `modelreg server start` over a store directory."""

    def __init__(self, home: str, cli: List[str]) -> None:
        self.home = home
        self.cli = cli
        self.url = ""
        self.port = 0
        self.users = 0
        self.process: Optional[subprocess.Popen[bytes]] = None
        self._stderr: Optional[IO[bytes]] = None
        self._drain: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    def _spawn(self, args: List[str], env: Dict[str, str]) -> "subprocess.Popen[bytes]":
        # PR_SET_PDEATHSIG fires when the *thread* that forked ends, so the child is started
        # from a thread that lives exactly as long as the child does.
        handoff: "queue.Queue[Any]" = queue.Queue()
        assert self._stderr is not None
        stderr = self._stderr

        def keeper() -> None:
            try:
                process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=env,
                    preexec_fn=_parent_death_hook(),
                    close_fds=True,
                )
            except OSError as error:
                handoff.put(error)
                return
            handoff.put(process)
            process.wait()

        threading.Thread(target=keeper, name="modelreg-local-server", daemon=True).start()
        result = handoff.get()
        if isinstance(result, OSError):
            raise RegistryError("unavailable", f"cannot start the modelreg CLI ({' '.join(args[:2])}): {result.strerror or result}")
        return result  # type: ignore[no-any-return]

    def start(self) -> None:
        os.makedirs(self.home, exist_ok=True)
        if self._stderr is None:
            self._stderr = tempfile.TemporaryFile()
        self._stderr.seek(0)
        self._stderr.truncate()
        args = self.cli + ["server", "start", "--no-auth", "--host", "127.0.0.1", "--port", str(self.port), "--json", "--quiet", "--data-dir", self.home]
        env = dict(os.environ)
        env.pop("MODELREG_SERVER_CONFIG", None)  # a private server: none of a team server's settings
        process = self._spawn(args, env)
        assert process.stdout is not None
        lines: "queue.Queue[bytes]" = queue.Queue()

        def drain(stream: IO[bytes]) -> None:
            # Read stdout to its end, so that the server never blocks on a full pipe.
            try:
                for line in iter(stream.readline, b""):
                    lines.put(line)
            finally:
                stream.close()
                lines.put(b"")

        self._drain = threading.Thread(target=drain, args=(process.stdout,), daemon=True)
        self._drain.start()
        try:
            first = lines.get(timeout=START_TIMEOUT)
        except queue.Empty:
            process.kill()
            raise RegistryError("unavailable", f"the local modelreg server did not start within {START_TIMEOUT:.0f} s ({self._tail()})") from None
        banner = _json_object(first)
        if banner is None or "url" not in banner:
            # With --json a failure is one JSON error document on stdout; read all of it.
            text = first
            while True:
                try:
                    more = lines.get(timeout=10)
                except queue.Empty:
                    break
                if not more:
                    break
                text += more
            process.wait(timeout=STOP_TIMEOUT)
            error = _json_object(text)
            if error and isinstance(error.get("error"), dict):
                raise RegistryError(str(error["error"].get("code", "unavailable")), f"the local modelreg server over {self.home} did not start: {error['error'].get('message')}")
            raise RegistryError("unavailable", f"the local modelreg server over {self.home} did not start ({self._tail() or text.decode(errors='replace').strip()[:300]})")
        self.process = process
        self.url = str(banner["url"])
        self.port = int(self.url.rsplit(":", 1)[1])

    def _tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", errors="replace").strip()
        return text.splitlines()[-1] if text else ""

    def restart_if_dead(self) -> bool:
        """Start the server again (on the same port) if it stopped under us; True if it did."""
        with self._lock:
            if self.process is None or self.process.poll() is None:
                return False
            try:
                self.start()
            except RuntimeError:  # no new threads while the interpreter shuts down
                return False
            return True

    def stop(self) -> None:
        with self._lock:
            process, self.process = self.process, None
            if process is None or process.poll() is not None:
                return
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if self._drain is not None:
                self._drain.join(timeout=5)
            if self._stderr is not None:
                self._stderr.close()
                self._stderr = None


def _json_object(data: bytes) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


_servers: Dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def acquire(home: str) -> LocalServer:
    """The running private server over `home`, started if needed (shared within the process)."""
    with _servers_lock:
        server = _servers.get(home)
        if server is None or server.process is None or server.process.poll() is not None:
            server = LocalServer(home, find_cli())
            server.start()
            _servers[home] = server
        server.users += 1
        return server


def release(server: LocalServer) -> None:
    with _servers_lock:
        server.users -= 1
        if server.users > 0:
            return
        if _servers.get(server.home) is server:
            del _servers[server.home]
    server.stop()


@atexit.register
def _stop_all() -> None:
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        server.stop()
