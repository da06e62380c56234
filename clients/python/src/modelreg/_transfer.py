"""Pushes and downloads, the way the CLI does them (src/registry/push.ts, download.ts):
ask which blobs the server lacks, upload only those (four at a time, streamed, hashed on the
way), then commit in one request carrying a request id so that a retry never makes two. A
download streams each file into a part file next to its target, resumes one left by an
interrupted download, verifies the sha256, and only then renames it into place."""
from __future__ import annotations

import base64
import hashlib
import os
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, TypeVar

from ._errors import RegistryError, from_os_error, invalid
from ._files import CHUNK, LocalFile, _q, collect_files, collision_key, hash_file, validate_file_path
from ._http import HttpClient, backoff

T = TypeVar("T")
ATTACHMENTS_DIR = "attachments"
UPLOADS_AT_ONCE = 4


def new_request_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")


def _map(items: Sequence[Any], work: Callable[[Any], T], at_once: int = UPLOADS_AT_ONCE) -> List[T]:
    if len(items) <= 1:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(at_once, len(items))) as pool:
        return list(pool.map(work, items))


def _file_body(file: LocalFile, hasher_out: Optional[List[Any]] = None) -> Callable[[], Tuple[int, Iterator[bytes]]]:
    """A request body streaming `file` in 1 MiB chunks; each attempt starts again, hashing what
    it sends into a fresh sha256 (left in hasher_out[0])."""

    def body() -> Tuple[int, Iterator[bytes]]:
        digest = hashlib.sha256()
        if hasher_out is not None:
            hasher_out[:] = [digest]

        def chunks() -> Iterator[bytes]:
            sent = 0
            try:
                handle = open(file.source, "rb", buffering=0)
            except OSError as error:
                raise from_os_error(error, _q(file.source)) from None
            with handle:
                while sent < file.size:
                    chunk = handle.read(min(CHUNK, file.size - sent))
                    if not chunk:
                        raise RegistryError("integrity", f"file {file.source} changed while it was being pushed (it is shorter now); nothing was committed, retry")
                    digest.update(chunk)
                    sent += len(chunk)
                    yield chunk

        return file.size, chunks()

    return body


class Uploaded:
    def __init__(self, http: HttpClient, files: List[Dict[str, Any]], attachments: List[Dict[str, Any]], sources: Dict[str, LocalFile], uploaded: Dict[str, int], reused: Dict[str, int]) -> None:
        self.http = http
        self.files = files
        self.attachments = attachments
        self.sources = sources
        self.uploaded = uploaded
        self.reused = reused

    def restore(self) -> None:
        """Upload again what the server lacks now (a gc with no grace removed it meanwhile)."""
        missing = missing_blobs(self.http, list(self.sources))
        _map(missing, lambda d: put_blob(self.http, d, self.sources[d]))


def missing_blobs(http: HttpClient, digests: List[str]) -> List[str]:
    out: List[str] = []
    for start in range(0, len(digests), 100_000):
        answer = http.json("missingBlobs", body={"digests": digests[start : start + 100_000]})
        # The server answers a bare list (its OpenAPI document says {"digests": [...]}): take either.
        out.extend(answer["digests"] if isinstance(answer, dict) else answer)
    return out


def put_blob(http: HttpClient, digest: str, file: LocalFile) -> Dict[str, Any]:
    try:
        response = http.send("putBlob", {"digest": digest}, body=_file_body(file), headers={"Content-Type": "application/octet-stream"})
        return response.json()  # type: ignore[no-any-return]
    except RegistryError as error:
        if error.code == "integrity":
            raise RegistryError("integrity", f"file {file.source} changed while it was being pushed; nothing was committed, retry") from None
        raise


def store_blob(http: HttpClient, file: LocalFile) -> Dict[str, Any]:
    """Upload content whose digest is not known yet: the server names it by the sha256 it
    computes, which must be the one of the bytes sent."""
    sent: List[Any] = []
    try:
        result: Dict[str, Any] = http.send("storeBlob", body=_file_body(file, sent), headers={"Content-Type": "application/octet-stream"}).json()
    except RegistryError as error:
        if error.code == "integrity":
            raise RegistryError("integrity", f"file {file.source} changed while it was being pushed; nothing was committed, retry") from None
        raise
    ours = sent[0].hexdigest() if sent else None
    if result.get("digest") != ours or result.get("size") != file.size:
        raise RegistryError("integrity", f"the server stored the upload as {result.get('digest')}, but the bytes sent hash to {ours}")
    return result


def upload_files(http: HttpClient, paths: List[str], attachment_paths: List[str], parent: Optional[Mapping[str, Any]] = None) -> Uploaded:
    """Make sure the server holds every file's content; return the manifests to commit. A file
    the parent version has at the same path and size is probably unchanged: it is hashed and
    sent only if the server lacks it. Any other file goes in one pass, hashed on the way."""
    files = collect_files(paths)
    attachments = collect_files(attachment_paths, "attachment")
    every = files + attachments
    known = [
        {f["path"]: f["size"] for f in (parent or {}).get("files", [])},
        {f["path"]: f["size"] for f in (parent or {}).get("attachments", [])},
    ]

    def likely_unchanged(i: int) -> bool:
        file = every[i]
        return known[0 if i < len(files) else 1].get(file.path) == file.size

    entries: List[Optional[Dict[str, Any]]] = [None] * len(every)
    sources: Dict[str, LocalFile] = {}
    stored: Set[str] = set()

    check = [i for i in range(len(every)) if likely_unchanged(i)]
    if check:
        digests = _map(check, lambda i: hash_file(every[i].source, every[i].size), at_once=2)
        for i, (digest, size) in zip(check, digests):
            file = every[i]
            if size != file.size:
                raise invalid(f"file {file.source} changed while it was being pushed (size {file.size} -> {size}); retry")
            entries[i] = {"path": file.path, "size": file.size, "sha256": digest, "mode": file.mode}
            sources.setdefault(digest, file)
        missing = missing_blobs(http, list(dict.fromkeys(entries[i]["sha256"] for i in check)))  # type: ignore[index]
        _map(missing, lambda d: put_blob(http, d, sources[d]))
        stored.update(missing)

    fresh = [i for i in range(len(every)) if not likely_unchanged(i)]

    def send_fresh(i: int) -> Tuple[int, Dict[str, Any]]:
        return i, store_blob(http, every[i])

    for i, result in _map(fresh, send_fresh):
        file = every[i]
        entries[i] = {"path": file.path, "size": file.size, "sha256": result["digest"], "mode": file.mode}
        sources.setdefault(result["digest"], file)
        if result.get("stored"):
            stored.add(result["digest"])

    counted: Set[str] = set()
    up_bytes = reused_files = reused_bytes = 0
    for entry in entries:
        assert entry is not None
        if entry["sha256"] in stored and entry["sha256"] not in counted:
            counted.add(entry["sha256"])
            up_bytes += entry["size"]
        else:
            reused_files += 1
            reused_bytes += entry["size"]
    done: List[Dict[str, Any]] = [e for e in entries if e is not None]
    return Uploaded(
        http,
        done[: len(files)],
        done[len(files) :],
        sources,
        {"files": len(counted), "bytes": up_bytes},
        {"files": reused_files, "bytes": reused_bytes},
    )


def commit_with_blobs(stored: Uploaded, commit: Callable[[], T]) -> T:
    """Commit; should the server have lost a blob since the upload (only a gc without grace
    can do that), upload it again and commit again."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return commit()
        except RegistryError as error:
            lost = error.code == "invalid_argument" and error.message.startswith("blob ") and "is not in the store" in error.message
            if not lost or attempt >= 3:
                raise
            stored.restore()


# ---------------------------------------------------------------------------------------------
# downloads


def download_entries(files: Sequence[Mapping[str, Any]], attachments: Sequence[Mapping[str, Any]], with_attachments: bool) -> List[Dict[str, Any]]:
    entries = [dict(f) for f in files]
    if with_attachments:
        entries.extend({**a, "path": f"{ATTACHMENTS_DIR}/{a['path']}"} for a in attachments)
    # Checked again here: a hostile server must not be able to steer where this writes.
    seen: Dict[str, str] = {}
    for entry in entries:
        validate_file_path(entry["path"])
        digest = entry.get("sha256")
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise RegistryError("integrity", f"the manifest gives {_q(entry['path'])} an invalid digest")
        if not isinstance(entry.get("size"), int) or entry["size"] < 0:
            raise RegistryError("integrity", f"the manifest gives {_q(entry['path'])} an invalid size")
        key = collision_key(entry["path"])
        if key in seen:
            raise invalid(f"{_q(seen[key])} and {_q(entry['path'])} would overwrite each other")
        seen[key] = entry["path"]
    return entries


def _existing(path: str) -> str:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return "none"
    except OSError as error:
        raise from_os_error(error, path) from None
    return "file" if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode) else "other"


def _prepare_target(root: str, path: str) -> str:
    """The path an entry lands on under root, making directories on the way; never through a
    symbolic link or anything but a directory."""
    segments = path.split("/")
    current = root
    for segment in segments[:-1]:
        current = os.path.join(current, segment)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            try:
                os.mkdir(current)
            except FileExistsError:
                pass
            except OSError as error:
                raise from_os_error(error, f"creating {current}") from None
            info = os.lstat(current)
        if stat.S_ISLNK(info.st_mode):
            raise invalid(f"refusing to write {_q(path)}: {current} is a symbolic link, which could lead outside {root}")
        if not stat.S_ISDIR(info.st_mode):
            raise RegistryError("conflict", f"cannot write {_q(path)}: {current} exists and is not a directory")
    target = os.path.join(root, *segments)
    if not os.path.abspath(target).startswith(os.path.abspath(root) + os.sep):
        raise invalid(f"refusing to write {_q(path)} outside {root}")
    return target


def _fetch_file(http: HttpClient, project: str, entry: Mapping[str, Any], target: str) -> int:
    size: int = entry["size"]
    digest_hex: str = entry["sha256"]
    part = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{digest_hex[:16]}.modelreg-part")
    digest = hashlib.sha256()
    offset = 0
    try:
        info = os.stat(part)
        if stat.S_ISREG(info.st_mode) and info.st_size <= size:
            got, offset = _hash_into(part, digest)
        else:
            os.unlink(part)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise from_os_error(error, part) from None
    resumed = offset
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if offset else os.O_TRUNC), 0o600)
    except OSError as error:
        raise from_os_error(error, f"writing {part}") from None
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    try:
        attempt = 0
        while offset < size:
            attempt += 1
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            response = http.send("openBlob", {"digest": digest_hex}, {"project": project}, headers=headers)
            if offset and response.status != 206:
                response.close()
                raise RegistryError("internal", f"the server at {http.url} does not support resuming downloads")
            try:
                while offset < size:
                    n = response.readinto(view[: min(CHUNK, size - offset)])
                    if not n:
                        break
                    digest.update(view[:n])
                    written = 0
                    while written < n:
                        written += os.write(fd, view[written:n])
                    offset += n
                extra = response.raw.read(1) if offset >= size else b""
                if extra:
                    raise RegistryError("integrity", f"file {_q(entry['path'])}: content is larger than the expected {size} bytes")
                response.close()
                if offset < size:
                    raise RegistryError("unavailable", f"the server at {http.url} ended the transfer of {_q(entry['path'])} early")
            except RegistryError as error:
                response.close()
                # A connection lost mid-transfer: go on from where it stopped.
                if error.code != "unavailable" or attempt >= http.attempts:
                    raise
                time.sleep(backoff(attempt))
        if digest.hexdigest() != digest_hex:
            raise RegistryError("integrity", f"file {_q(entry['path'])} does not match its digest (got {digest.hexdigest()}, expected {digest_hex}); nothing was written at its path")
        os.fsync(fd)
    except BaseException as error:
        os.close(fd)
        if isinstance(error, RegistryError) and error.code == "integrity":
            try:
                os.unlink(part)
            except OSError:
                pass
        raise
    os.close(fd)
    try:
        os.chmod(part, entry.get("mode", 0o644) & 0o777)
        os.replace(part, target)
    except OSError as error:
        raise from_os_error(error, f"writing {target}") from None
    return resumed


def _hash_into(path: str, digest: Any) -> Tuple[Any, int]:
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            n = handle.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            size += n
    return digest, size


def download_files(
    http: HttpClient,
    ref: str,
    project: str,
    files: Sequence[Mapping[str, Any]],
    attachments: Sequence[Mapping[str, Any]],
    directory: str,
    with_attachments: bool = False,
    force: bool = False,
) -> Dict[str, Any]:
    root = os.path.abspath(directory)
    entries = download_entries(files, attachments, with_attachments)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as error:
        raise from_os_error(error, f"creating {root}") from None
    clashes: List[str] = []
    for entry in entries:
        state = _existing(os.path.join(root, *entry["path"].split("/")))
        if state == "other":
            raise RegistryError("conflict", f"cannot write {_q(entry['path'])}: a directory or special file is in the way in {root}")
        if state == "file" and not force:
            clashes.append(entry["path"])
    if clashes:
        shown = ", ".join(_q(p) for p in clashes[:3]) + (", ..." if len(clashes) > 3 else "")
        plural = len(clashes) != 1
        raise RegistryError(
            "conflict",
            f"{len(clashes)} file{'s' if plural else ''} already exist{'' if plural else 's'} in {root} ({shown}); use force=True to overwrite or choose another directory",
        )
    resumed = 0
    for entry in entries:
        target = _prepare_target(root, entry["path"])
        resumed += _fetch_file(http, project, entry, target)
    return {
        "ref": ref,
        "directory": root,
        "files": [{"path": e["path"], "size": e["size"], "sha256": e["sha256"]} for e in entries],
        "bytes": sum(e["size"] for e in entries),
        "resumed_bytes": resumed,
    }
