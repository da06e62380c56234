"""Files on this machine: what a push stores (paths expanded, as the CLI does) and the rules a
path inside a version must follow before a download writes it (src/registry/files.ts,
src/backends/validation.ts)."""
from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
from typing import Dict, Iterable, List, NamedTuple, Optional, Set, Tuple, Union

from ._errors import RegistryError, from_os_error, invalid

CHUNK = 1024 * 1024
PathLike = Union[str, "os.PathLike[str]"]

_CONTROL_RE = re.compile("[\u0000-\u001f\u007f-\u009f]")
_DEVICE_RE = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$", re.IGNORECASE)


class LocalFile(NamedTuple):
    source: str  # absolute path on this machine
    path: str  # path inside the version
    size: int
    mode: int  # 0o644 or 0o755


def _q(value: str) -> str:
    import json

    return json.dumps(value if len(value) <= 80 else value[:77] + "...")


def validate_file_path(path: str) -> str:
    """A relative POSIX path that can be written under a directory on any common system."""
    if not isinstance(path, str) or not path:
        raise invalid("file path is required")

    def bad(why: str) -> RegistryError:
        return invalid(f"invalid file path {_q(path)}: {why}")

    if len(path.encode("utf-8")) > 4096:
        raise bad("longer than 4096 bytes")
    if _CONTROL_RE.search(path):
        raise bad("contains control characters")
    if "\\" in path:
        raise bad("contains a backslash")
    if path.startswith("/"):
        raise bad("is absolute")
    if re.match(r"^[A-Za-z]:", path):
        raise bad("starts with a drive letter")
    for segment in path.split("/"):
        if segment == "":
            raise bad("has an empty segment")
        if segment in (".", ".."):
            raise bad(f"has a {_q(segment)} segment")
        if len(segment.encode("utf-8")) > 255:
            raise bad("has a segment longer than 255 bytes")
        if _DEVICE_RE.match(segment):
            raise bad(f"{_q(segment)} is a reserved device name on Windows")
        if segment.endswith(".") or segment.endswith(" "):
            raise bad("has a segment ending in a dot or a space")
    return path


def collision_key(path: str) -> str:
    return unicodedata.normalize("NFC", path).lower()


def _mode(st_mode: int) -> int:
    return 0o755 if st_mode & 0o111 else 0o644


def _checked(path: str, source: str) -> str:
    try:
        return validate_file_path(path)
    except RegistryError as error:
        raise invalid(f"cannot push {_q(source)}: {error}") from None


def as_path_list(paths: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def collect_files(paths: Iterable[str], what: str = "file") -> List[LocalFile]:
    """Files and directories as a flat sorted list: a file under its base name, a directory's
    files under their paths relative to it. Symbolic links are followed (loops refused);
    sockets, FIFOs and devices are refused, and so are two paths that would collide."""
    out: List[LocalFile] = []
    for given in paths:
        absolute = os.path.abspath(given)
        try:
            info = os.stat(absolute)
        except OSError as error:
            raise from_os_error(error, f"{what} {_q(given)}") from None
        if stat.S_ISDIR(info.st_mode):
            before = len(out)
            _walk(absolute, "", out, {os.path.realpath(absolute)})
            if len(out) == before:
                raise invalid(f"directory {_q(given)} holds no files")
        elif stat.S_ISREG(info.st_mode):
            out.append(LocalFile(absolute, _checked(os.path.basename(absolute), absolute), info.st_size, _mode(info.st_mode)))
        else:
            raise invalid(f"{what} {_q(given)} is not a regular file or directory")
    out.sort(key=lambda f: f.path.encode("utf-16-be"))  # the order JavaScript's < gives
    seen: Dict[str, LocalFile] = {}
    for file in out:
        key = collision_key(file.path)
        other = seen.get(key)
        if other is not None:
            if other.path == file.path:
                raise invalid(f"two {what}s would both be stored as {_q(file.path)} ({other.source} and {file.source}); push them from one directory or rename one")
            raise invalid(f"{_q(other.path)} and {_q(file.path)} differ only in case or Unicode normalization; they would overwrite each other on some systems")
        seen[key] = file
    return out


def _walk(directory: str, prefix: str, out: List[LocalFile], ancestors: Set[str]) -> None:
    try:
        names = os.listdir(directory)
    except OSError as error:
        raise from_os_error(error, f"reading directory {_q(directory)}") from None
    for name in names:
        source = os.path.join(directory, name)
        path = f"{prefix}/{name}" if prefix else name
        try:
            info = os.stat(source)
        except OSError as error:
            if os.path.islink(source):
                raise invalid(f"symbolic link {_q(source)} points at nothing") from None
            raise from_os_error(error, _q(source)) from None
        if stat.S_ISDIR(info.st_mode):
            real = os.path.realpath(source)
            if real in ancestors:
                raise invalid(f"symbolic link loop at {_q(source)}")
            _walk(source, path, out, ancestors | {real})
        elif stat.S_ISREG(info.st_mode):
            out.append(LocalFile(source, _checked(path, source), info.st_size, _mode(info.st_mode)))
        else:
            raise invalid(f"{_q(source)} is not a regular file or directory (sockets, FIFOs and devices cannot be pushed)")


def hash_file(path: str, expect_size: Optional[int] = None) -> Tuple[str, int]:
    """sha256 and size of a file, read in 1 MiB chunks into one reused buffer."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    size = 0
    try:
        with open(path, "rb", buffering=0) as handle:
            while True:
                n = handle.readinto(buffer)
                if not n:
                    break
                digest.update(view[:n])
                size += n
                if expect_size is not None and size > expect_size:
                    raise invalid(f"{_q(path)} reads longer than its size of {expect_size} bytes (it is growing, or not an ordinary file)")
    except OSError as error:
        raise from_os_error(error, _q(path)) from None
    return digest.hexdigest(), size


def dataset_digest(given: str) -> Tuple[str, int]:
    """sha256 and size of a local file; for a directory, the sha256 of its manifest (one
    "<sha256>  <relative path>" line per file, sorted), as `runs dataset --hash` records it.
    The path is used exactly as given; a link inside a directory must stay inside it."""
    try:
        info = os.stat(given)
    except FileNotFoundError:
        raise RegistryError("not_found", f"dataset path {_q(given)} does not exist (it is read exactly as written)") from None
    except OSError as error:
        raise from_os_error(error, f"dataset path {_q(given)}") from None
    if stat.S_ISREG(info.st_mode):
        return hash_file(given, info.st_size)
    if not stat.S_ISDIR(info.st_mode):
        raise invalid(f"dataset path {_q(given)} is not a regular file or directory")
    root = os.path.realpath(given)
    files: List[Tuple[str, str, int]] = []
    entries = 0

    def walk(directory: str, prefix: str, depth: int, ancestors: Set[str]) -> None:
        nonlocal entries
        if depth > 64:
            raise invalid(f"dataset path {_q(given)} is deeper than 64 directory levels; hash a smaller directory")
        try:
            names = os.listdir(directory)
        except OSError as error:
            raise from_os_error(error, f"reading directory {_q(directory)}") from None
        entries += len(names)
        if entries > 1_000_000:
            raise invalid(f"dataset path {_q(given)} holds more than 1000000 entries; hash a smaller directory")
        for name in names:
            path = f"{prefix}/{name}" if prefix else name
            if _CONTROL_RE.search(name):
                raise invalid(f"{_q(given + '/' + path)} has control characters in its name; it cannot be listed in a manifest")
            source = os.path.join(directory, name)
            real = None
            if os.path.islink(source):
                real = os.path.realpath(source)
                if not os.path.exists(source):
                    raise invalid(f"symbolic link {_q(given + '/' + path)} points at nothing")
                if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                    raise invalid(f"symbolic link {_q(given + '/' + path)} leads out of {_q(given)} (to {_q(real)}); refusing to hash it: hash the target directly or copy it in")
            st = os.stat(source)
            if stat.S_ISDIR(st.st_mode):
                real = real or os.path.realpath(source)
                if real in ancestors:
                    raise invalid(f"symbolic link loop at {_q(given + '/' + path)}")
                walk(source, path, depth + 1, ancestors | {real})
            elif stat.S_ISREG(st.st_mode):
                files.append((path, source, st.st_size))
            else:
                raise invalid(f"{_q(given + '/' + path)} is not a regular file or directory (sockets, FIFOs and devices cannot be hashed)")

    walk(given, "", 1, {root})
    files.sort(key=lambda f: f[0].encode("utf-16-be"))
    manifest = hashlib.sha256()
    total = 0
    for path, source, size in files:
        digest, n = hash_file(source, size)
        manifest.update(f"{digest}  {path}\n".encode("utf-8"))
        total += n
    return manifest.hexdigest(), total
