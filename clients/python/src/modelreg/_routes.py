"""The routes of the HTTP API this client uses: method, path template, whether a failed
attempt may be repeated (src/protocol/routes.ts), and the query parameters and JSON body
fields the client sends. The client refuses to send anything not declared here, and a test
checks every declaration against the server's /api/v1/openapi.json, so a route that changes
on the server fails the client's tests instead of its users."""
from __future__ import annotations

from typing import Dict, NamedTuple, Tuple


class Route(NamedTuple):
    method: str
    path: str
    idempotent: bool
    query: Tuple[str, ...] = ()
    body: Tuple[str, ...] = ()


P = "/api/v1/projects/{project}"
M = P + "/models/{model}"
R = "/api/v1/runs/{run}"
PAGE = ("limit", "offset")

ROUTES: Dict[str, Route] = {
    "listProjects": Route("GET", "/api/v1/projects", True, PAGE),
    "listModels": Route("GET", P + "/models", True, ("sort_by", "order_by", "name", "description", "label") + PAGE),
    "createModel": Route("POST", P + "/models", False, body=("name", "description", "metadata", "labels", "owner", "task")),
    "getModel": Route("GET", M, True),
    "updateModel": Route("PATCH", M, False, body=("description", "owner", "task", "metadata", "unset", "labels", "unlabel")),
    "deleteModel": Route("DELETE", M, False),
    "modelLog": Route("GET", P + "/log", True, ("model",) + PAGE),
    "listVersions": Route("GET", M + "/versions", True, ("where",) + PAGE),
    "getVersion": Route("GET", M + "/versions/{selector}", True),
    # Safe to repeat: every commit carries a request_id, and a repeat returns the first result.
    "createVersion": Route(
        "POST",
        M + "/versions",
        True,
        body=("files", "attachments", "comment", "author", "metadata", "metrics", "framework", "format", "tags", "source", "run_id", "datasets", "request_id"),
    ),
    "listTags": Route("GET", M + "/tags", True),
    "setTag": Route("PUT", M + "/tags/{tag}", True, body=("selector", "expect_previous")),
    "removeTag": Route("DELETE", M + "/tags/{tag}", False),
    "registerCheckpoint": Route("POST", M + "/register", True, body=("checkpoint", "author", "comment", "tags", "metadata", "source", "request_id")),
    "createRun": Route("POST", P + "/runs", False, body=("experiment", "name", "params", "tags", "status", "author", "source")),
    "listRuns": Route("GET", P + "/runs", True, ("experiment", "status", "param", "where", "sort_by", "order_by") + PAGE),
    "getRun": Route("GET", R, True),
    "deleteRun": Route("DELETE", R, False),
    "updateRun": Route("PATCH", R, True, body=("status",)),
    "setRunParams": Route("PUT", R + "/params", True, body=("params", "overwrite")),
    "setDataset": Route("PUT", R + "/datasets/{tag}", True, body=("uri", "sha256", "size", "metadata")),
    "createCheckpoint": Route("POST", R + "/checkpoints", True, body=("files", "step", "metrics", "metadata", "request_id")),
    "listCheckpoints": Route("GET", R + "/checkpoints", True),
    "getCheckpoint": Route("GET", "/api/v1/checkpoints/{uuid}", True),
    # The server's table says not idempotent because a stream cannot be replayed; this client
    # sends batches it keeps until they are acknowledged, and a repeated (name, split, step)
    # replaces the point, so its batches are safe to send again.
    "logMetrics": Route("POST", R + "/metrics", True),
    "readMetrics": Route("GET", R + "/metrics", True, ("name", "split")),
    "missingBlobs": Route("POST", "/api/v1/blobs/missing", True, body=("digests",)),
    "storeBlob": Route("POST", "/api/v1/blobs", True),
    "putBlob": Route("PUT", "/api/v1/blobs/sha256/{digest}", True),
    "openBlob": Route("GET", "/api/v1/blobs/sha256/{digest}", True, ("project",)),
}
