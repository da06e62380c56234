"""The one error type of the client: the API's error code and its one-line message."""
from __future__ import annotations

from typing import Dict

# The API's codes and their HTTP statuses (src/backends/errors.ts), for responses that carry no
# error envelope (a proxy's page, say).
HTTP_STATUS: Dict[str, int] = {
    "invalid_argument": 400,
    "payload_too_large": 413,
    "method_not_allowed": 405,
    "not_found": 404,
    "already_exists": 409,
    "conflict": 409,
    "unauthenticated": 401,
    "permission_denied": 403,
    "integrity": 422,
    "unavailable": 503,
    "storage_full": 507,
    "range_not_satisfiable": 416,
    "internal": 500,
}

# The CLI's exit code for each error code, so that scripts can mirror the CLI.
EXIT_CODES: Dict[str, int] = {
    "invalid_argument": 2,
    "payload_too_large": 2,
    "method_not_allowed": 2,
    "not_found": 3,
    "already_exists": 4,
    "conflict": 4,
    "unauthenticated": 5,
    "permission_denied": 5,
    "integrity": 6,
    "unavailable": 7,
    "storage_full": 1,
    "range_not_satisfiable": 1,
    "internal": 1,
}


class RegistryError(Exception):
    """Every failure of the client: ``.code`` is the API's error code (``not_found``,
    ``conflict``, ``unavailable`` ...), ``str(error)`` its one-line message."""

    code: str
    message: str

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def exit_code(self) -> int:
        """The exit code the CLI gives for the same failure."""
        return EXIT_CODES.get(self.code, 1)

    def __repr__(self) -> str:
        return f"RegistryError({self.code!r}, {self.message!r})"


def code_for_status(status: int) -> str:
    for code, http in HTTP_STATUS.items():
        if http == status:
            return code
    return "internal" if status >= 500 else "invalid_argument"


def invalid(message: str) -> RegistryError:
    return RegistryError("invalid_argument", message)


def from_os_error(error: OSError, what: str) -> RegistryError:
    """A file-system error, translated where it happens (as the CLI does)."""
    import errno

    number = error.errno
    if number == errno.ENOENT:
        return RegistryError("not_found", f"{what}: no such file or directory")
    if number == errno.EEXIST:
        return RegistryError("already_exists", f"{what}: already exists")
    if number in (errno.EACCES, errno.EPERM):
        return RegistryError("permission_denied", f"{what}: permission denied")
    if number in (errno.ENOSPC, errno.EDQUOT):
        return RegistryError("storage_full", f"{what}: no space left on device")
    if number == errno.EISDIR:
        return invalid(f"{what}: is a directory")
    if number == errno.ENOTDIR:
        return invalid(f"{what}: a path component is not a directory")
    return RegistryError("internal", f"{what}: {error.strerror or error}")
