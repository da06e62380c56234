"""Experiment tracking: runs, their metric series, datasets and checkpoints (MLflow's
``start_run`` context manager, W&B's buffered ``log``, MLDB's per-epoch helpers).

``run.log()`` never waits for the network: points go into a buffer that a background thread
sends in batches. Every point leaves with an explicit step (the default computed here, per
series), so a batch sent again after a network failure or a server restart replaces the same
points instead of adding new ones: nothing is lost and nothing doubled."""
from __future__ import annotations

import atexit
import collections
import json
import math
import operator
import os
import re
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Deque, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ._errors import RegistryError, invalid
from ._files import PathLike, as_path_list, dataset_digest
from ._http import backoff
from ._transfer import commit_with_blobs, download_files, new_request_id, upload_files

if TYPE_CHECKING:
    from .registry import Registry

METRIC_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/:]{0,127}$")
SPLIT_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
FINISHED = ("completed", "failed", "killed")
MAX_STEP = 2**53 - 1  # the server's steps are JavaScript safe integers
BATCH_POINTS = 10_000  # the server writes 10,000 points per transaction
SEND_INTERVAL = 0.5  # seconds between sends while points trickle in
HOT_GAP = 0.005  # log() calls closer than this: the loop is busy, sending waits for a gap
HOT_BUFFER_LIMIT = 200_000  # ... unless this many points wait
FLUSH_TIMEOUT = float(os.environ.get("MODELREG_FLUSH_TIMEOUT", "300"))

# A point in the buffer: its series' NDJSON prefix ({"name":..,"split":..,"step":), step, value, time.
Point = Tuple[str, int, float, float]
_now = time.time
_isfinite = math.isfinite


class _Series:
    __slots__ = ("prefix", "last")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.last = -1


class _MetricSender:
    """A run's buffer of points and the thread that sends it."""

    def __init__(self, registry: "Registry", run_id: str) -> None:
        self._registry = registry
        self.run_id = run_id
        self.queue: Deque[Point] = collections.deque()
        self.wake = threading.Event()
        self.idle = threading.Condition()
        self.in_flight = 0
        self.error: Optional[RegistryError] = None
        self.closing = False
        self.sent = 0
        self.last_log = 0.0  # when log() last added points (set by log())
        self.urgent = False  # someone waits for the buffer to empty: no backing off
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"modelreg-metrics-{self.run_id}", daemon=True)
            self._thread.start()
            _senders.add(self)

    def _loop(self) -> None:
        while True:
            self.wake.wait(SEND_INTERVAL)
            self.wake.clear()
            while self.queue and not (self.abandon and self.error is not None):
                self._pause()
                batch: List[Point] = []
                pop = self.queue.popleft
                try:
                    for _ in range(BATCH_POINTS):
                        batch.append(pop())
                except IndexError:
                    pass
                with self.idle:
                    self.in_flight = len(batch)
                self._send(batch)
                with self.idle:
                    self.in_flight = 0
                    self.idle.notify_all()
            with self.idle:
                self.idle.notify_all()
            if self.closing and (not self.queue or self.abandon):
                return

    def _pause(self) -> None:
        """While the training loop is logging hard, stay out of its way (the GIL is the loop's
        then): wait for a gap in its logging, unless the buffer grows large or someone waits
        for it to empty."""
        while not self.urgent and len(self.queue) < HOT_BUFFER_LIMIT and _now() - self.last_log < HOT_GAP:
            time.sleep(HOT_GAP)

    def _encode(self, batch: List[Point]) -> bytes:
        lines: List[str] = []
        append = lines.append
        last_ms = -1
        stamp = ""
        for i, (prefix, step, value, at) in enumerate(batch):
            if i % 1000 == 999:
                self._pause()
            ms = int(at * 1000)
            if ms != last_ms:
                last_ms = ms
                stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
            append(f'{prefix}{step},"value":{value!r},"time":"{stamp}"}}\n')
        return "".join(lines).encode("utf-8")

    def _send(self, batch: List[Point]) -> None:
        body = self._encode(batch)
        http = self._registry._http
        attempt = 0
        while True:
            attempt += 1
            try:
                http.send("logMetrics", {"run": self.run_id}, body=body, headers={"Content-Type": "application/x-ndjson"}).json()
                self.sent += len(batch)
                return
            except RegistryError as error:
                # The server is away (down, restarting, unreachable): keep the batch and try
                # again until it is back; the points' steps make a repeat harmless.
                if error.code == "unavailable" or error.code == "internal" and "answered HTTP 5" in error.message:
                    if self.closing and self.abandon:
                        self.error = error
                        return
                    time.sleep(min(5.0, backoff(min(attempt, 5))))
                    continue
                self.error = error
                return

    abandon = False

    def flush(self, timeout: Optional[float] = None) -> None:
        """Wait until every point logged so far is acknowledged by the server."""
        if self._thread is None:
            return
        start = time.monotonic()
        deadline = None if timeout is None else start + timeout
        announced = False
        self.urgent = True
        self.wake.set()
        with self.idle:
            while (self.queue or self.in_flight) and not (self.abandon and self.error is not None):
                now = time.monotonic()
                left = None if deadline is None else deadline - now
                if left is not None and left <= 0:
                    pending = len(self.queue) + self.in_flight
                    raise RegistryError("unavailable", f"{pending} metric points of run {self.run_id} are not sent: the server at {self._registry.url} did not take them within {timeout:.0f} s")
                if not announced and now - start > 5:
                    announced = True
                    limit = "" if timeout is None else f" (waiting up to {timeout:.0f} s; MODELREG_FLUSH_TIMEOUT)"
                    print(f"modelreg: waiting for the server at {self._registry.url} to take {len(self.queue) + self.in_flight} metric points of run {self.run_id}{limit}", file=sys.stderr)
                self.idle.wait(0.2 if left is None else min(0.2, left))
                self.wake.set()
        self.urgent = False
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def close(self, timeout: Optional[float] = FLUSH_TIMEOUT) -> None:
        try:
            self.flush(timeout)
        finally:
            self.urgent = True
            self.closing = True
            self.abandon = True
            self.wake.set()
            _senders.discard(self)


_senders: "weakref.WeakSet[_MetricSender]" = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    # Registered after the private servers' own handler (imported first), so it runs before it.
    for sender in list(_senders):
        try:
            sender.close()
        except RegistryError as error:
            print(f"modelreg: {error}", file=sys.stderr)


class Checkpoint:
    """Files a run saved at a step, with metrics; ``model.register_version(ckpt.uuid)``."""

    def __init__(self, registry: "Registry", data: Dict[str, Any]) -> None:
        self._registry = registry
        self._data = data

    data = property(lambda self: self._data)
    uuid = property(lambda self: self._data["uuid"])
    run_id = property(lambda self: self._data["run_id"])
    step = property(lambda self: self._data["step"])
    metrics = property(lambda self: self._data["metrics"])
    metadata = property(lambda self: self._data["metadata"])
    size = property(lambda self: self._data["size"])
    created_at = property(lambda self: self._data["created_at"])

    @property
    def files(self) -> List[Dict[str, Any]]:
        if "files" not in self._data:
            self._data = self._registry._http.json("getCheckpoint", {"uuid": self.uuid})
        return self._data["files"]  # type: ignore[no-any-return]

    def download(self, directory: PathLike = ".", force: bool = False) -> Dict[str, Any]:
        """Write the checkpoint's files under `directory`, verified."""
        return download_files(self._registry._http, f"checkpoint {self.uuid}", self._data["project"], self.files, [], os.fspath(directory), False, force)

    def __repr__(self) -> str:
        return f"<modelreg.Checkpoint {self.uuid} step={self.step}>"


class Run:
    """One execution of a training script: params, metric series, datasets, checkpoints."""

    def __init__(self, registry: "Registry", data: Dict[str, Any], new: bool = False) -> None:
        self._registry = registry
        self._data = data
        self.id: str = data["id"]
        self._sender: Optional[_MetricSender] = None
        # Series by split and name, with their last step: a new run has none; a run found again
        # is asked for its own on the first log().
        self._series: Dict[str, Dict[str, _Series]] = {}
        self._new = new
        self._finished = data.get("status") in FINISHED

    data = property(lambda self: self._data)
    name = property(lambda self: self._data["name"])
    experiment = property(lambda self: self._data["experiment"])
    project = property(lambda self: self._data["project"])
    status = property(lambda self: self._data["status"])
    tags = property(lambda self: self._data["tags"])

    @property
    def params(self) -> Dict[str, Any]:
        return self._data["params"]  # type: ignore[no-any-return]

    # -- metrics -------------------------------------------------------------------------------

    def log(self, values: Mapping[str, Any], step: Optional[int] = None, split: Optional[str] = None) -> None:
        """Log values at one step: ``run.log({"loss": 0.3, "acc": 0.9}, step=3, split="valid")``.
        Without a step, each series goes one past its last step. Returns at once: the points
        are sent in batches from a background thread."""
        # The hot path of a training loop: a few dictionary lookups and one append per value.
        sender = self._sender
        if sender is None or sender.error is not None:
            sender = self._sender_for_log()
        if split is None:
            split = ""
        by_name = self._series.get(split)
        if by_name is None:
            by_name = self._series_of_split(split)
        if step is not None and (step.__class__ is not int or step < 0 or step > MAX_STEP):
            step = _check_step(step)
        at = sender.last_log = _now()
        append = sender.queue.append
        for name, value in values.items():
            series = by_name.get(name)
            if series is None:
                series = self._new_series(by_name, name, split)
            if value.__class__ is not float:
                value = _number(name, value)
            if not _isfinite(value):
                raise invalid(f"metric {name}: value must be a finite number, not {value}")
            if step is None:
                at_step = series.last = series.last + 1
            else:
                at_step = step
                if step > series.last:
                    series.last = step
            append((series.prefix, at_step, value, at))
        if len(sender.queue) >= BATCH_POINTS:
            sender.wake.set()

    def _sender_for_log(self) -> _MetricSender:
        sender = self._sender
        if sender is not None:
            error, sender.error = sender.error, None
            if error is not None:
                raise error
            return sender
        if self._finished:
            raise RegistryError("conflict", f"run {self.id} already finished ({self.status}): it takes no more points")
        if not self._new:
            # A run found again: each series goes on from its last stored step.
            full = self._registry._http.json("getRun", {"run": self.id})
            for summary in full.get("metric_summaries", []):
                by_name = self._series_of_split(summary["split"])
                self._new_series(by_name, summary["name"], summary["split"]).last = summary["last_step"]
        sender = _MetricSender(self._registry, self.id)
        sender.start()
        self._sender = sender
        return sender

    def _series_of_split(self, split: str) -> Dict[str, "_Series"]:
        if split != "" and (split.__class__ is not str or not SPLIT_RE.match(split)):
            raise invalid(f"invalid split {json.dumps(str(split))}: use 1-32 letters, digits, '_' or '-'")
        by_name: Dict[str, _Series] = {}
        self._series[split] = by_name
        return by_name

    def _new_series(self, by_name: Dict[str, "_Series"], name: str, split: str) -> "_Series":
        if name.__class__ is not str or not METRIC_RE.match(name):
            raise invalid(f"invalid metric name {json.dumps(str(name))}: use 1-128 letters, digits, '_', '.', '-', '/' or ':'")
        series = by_name[name] = _Series(f'{{"name":{json.dumps(name)},"split":"{split}","step":')
        return series

    def flush(self, timeout: Optional[float] = None) -> None:
        """Wait until every point logged so far is stored on the server."""
        if self._sender is not None:
            self._sender.flush(timeout)

    def _close_sender(self) -> None:
        if self._sender is not None:
            sender, self._sender = self._sender, None
            sender.close()

    def metrics(self, name: Optional[str] = None, split: Optional[str] = None) -> List[Dict[str, Any]]:
        """The stored series (after sending what is buffered): ``[{name, split, step, value, time}]``,
        ordered by name, split and step."""
        self.flush()
        return list(self._registry._http.lines("readMetrics", {"run": self.id}, {"name": name, "split": split}))

    # -- the rest of a run ---------------------------------------------------------------------

    def reload(self) -> "Run":
        """Fetch the run again: status, params, metric summaries, datasets, checkpoints, versions."""
        self._data = self._registry._http.json("getRun", {"run": self.id})
        return self

    get = reload

    def set_params(self, params: Mapping[str, Any], overwrite: bool = False) -> Dict[str, Any]:
        """Add params; changing one to a different value is a ``conflict`` unless overwrite."""
        result = self._registry._http.json("setRunParams", {"run": self.id}, body={"params": dict(params), "overwrite": overwrite})
        self._data["params"] = result
        return result  # type: ignore[no-any-return]

    def dataset(self, tag: str, uri: str, metadata: Optional[Mapping[str, Any]] = None, hash: Union[bool, str] = False) -> Dict[str, Any]:
        """Record the dataset used as `tag` (``train``, ``test``): a path or URI kept exactly as
        given. ``hash=True`` records a local file's sha256 (a directory's manifest sha256) and
        size; a string is taken as a sha256 computed elsewhere."""
        body: Dict[str, Any] = {"uri": uri, "metadata": dict(metadata or {})}
        if hash is True:
            if re.match(r"^[a-z][a-z0-9+.-]*://", uri, re.IGNORECASE):
                raise invalid(f'dataset path "{uri}": hash=True works on local files and directories, not URIs')
            body["sha256"], body["size"] = dataset_digest(uri)
        elif isinstance(hash, str):
            body["sha256"] = hash.lower()
        return self._registry._http.json("setDataset", {"run": self.id, "tag": tag}, body=body)  # type: ignore[no-any-return]

    def checkpoint(
        self,
        paths: Union[PathLike, Iterable[PathLike]],
        step: Optional[int] = None,
        metrics: Optional[Mapping[str, float]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> Checkpoint:
        """Store files as a checkpoint of this run (deduplicated like versions)."""
        path_list = as_path_list(paths)
        if not path_list:
            raise invalid("name at least one file or directory to store")
        http = self._registry._http
        stored = upload_files(http, path_list, [])
        body: Dict[str, Any] = {"files": stored.files, "request_id": new_request_id()}
        if step is not None:
            body["step"] = step
        if metrics is not None:
            body["metrics"] = {k: float(v) for k, v in metrics.items()}
        if metadata is not None:
            body["metadata"] = dict(metadata)
        def commit() -> Any:
            return http.json("createCheckpoint", {"run": self.id}, body=body)

        return Checkpoint(self._registry, commit_with_blobs(stored, commit))

    def checkpoints(self) -> List[Checkpoint]:
        return [Checkpoint(self._registry, c) for c in self._registry._http.json("listCheckpoints", {"run": self.id})]

    def delete(self) -> Dict[str, Any]:
        """Delete the run with its metrics, datasets and checkpoints (versions made from it stay
        whole); needs an admin token on a server."""
        if self._sender is not None:
            sender, self._sender = self._sender, None
            sender.abandon = sender.closing = True
            sender.queue.clear()
            sender.wake.set()
        result: Dict[str, Any] = self._registry._http.json("deleteRun", {"run": self.id})
        self._finished = True
        return result

    def set_status(self, status: str) -> "Run":
        """Move the run to a status (queued -> running -> completed | failed | killed)."""
        if status in FINISHED:
            return self.finish(status)
        self._data = self._registry._http.json("updateRun", {"run": self.id}, body={"status": status})
        return self

    def finish(self, status: str = "completed") -> "Run":
        """Send what is buffered, then end the run (``completed``, ``failed`` or ``killed``)."""
        if status not in FINISHED:
            raise invalid(f'a run finishes "completed", "failed" or "killed", not "{status}"')
        unsent: Optional[RegistryError] = None
        try:
            self._close_sender()
        except RegistryError as error:
            if error.code == "unavailable":
                raise
            unsent = error  # the server refused some points; the run still gets its status
        self._data = self._registry._http.json("updateRun", {"run": self.id}, body={"status": status})
        self._finished = True
        if unsent is not None:
            raise unsent
        return self

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._finished:
            self._close_sender()
            return
        status = "completed" if kind is None else "killed" if issubclass(kind, KeyboardInterrupt) else "failed"
        if kind is None:
            self.finish(status)
            return
        try:
            self.finish(status)
        except RegistryError as failure:
            # The block's own exception matters more; say what could not be recorded.
            print(f"modelreg: could not mark run {self.id} {status}: {failure}", file=sys.stderr)

    def __repr__(self) -> str:
        return f"<modelreg.Run {self.id} {self.experiment}/{self.name} {self.status}>"


def _number(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise invalid(f"metric {name}: value must be a number, not {value!r}") from None


def _check_step(step: Any) -> int:
    try:
        value = operator.index(step)
    except TypeError:
        raise invalid(f"step must be a whole number >= 0, not {step!r}") from None
    if value < 0 or value > MAX_STEP:
        raise invalid(f"step must be a whole number from 0 to {MAX_STEP}, not {value}")
    return value


# ---------------------------------------------------------------------------------------------
# MLDB's helpers: db.add_loss_value(exp, "train", epoch, loss), add_metric_value, set_exp_status

_MLDB_STATUS = {
    "training": "running",
    "running": "running",
    "queued": "queued",
    "complete": "completed",
    "completed": "completed",
    "done": "completed",
    "failed": "failed",
    "error": "failed",
    "killed": "killed",
    "cancelled": "killed",
    "canceled": "killed",
}


def add_loss_value(run: Run, kind: str, epoch: int, value: float) -> None:
    """MLDB's ``add_loss_value(exp, 'train', epoch, loss)``: the ``loss`` series of split `kind`."""
    run.log({"loss": value}, step=epoch, split=kind)


def add_metric_value(run: Run, name: str, epoch: int, value: float, split: Optional[str] = None) -> None:
    """MLDB's ``add_metric_value(exp, 'rmse', epoch, rmse)``."""
    run.log({name: value}, step=epoch, split=split)


def set_status(run: Run, status: str) -> Run:
    """MLDB's ``set_exp_status(exp, 'TRAINING' | 'COMPLETE' | 'FAILED' ...)``."""
    mapped = _MLDB_STATUS.get(status.lower())
    if mapped is None:
        raise invalid(f'unknown status "{status}": use TRAINING, COMPLETE, FAILED or KILLED (or queued, running, completed, failed, killed)')
    if mapped == run.status:
        return run
    return run.set_status(mapped)
