"""The routes of the HTTP API this client uses: method, path template, and whether a failed
attempt may be repeated (src/protocol/routes.ts). A test checks each against the server's
/api/v1/openapi.json, so a change of route on the server fails the client's tests."""
from __future__ import annotations

from typing import Dict, NamedTuple


class Route(NamedTuple):
    method: str
    path: str
    idempotent: bool


P = "/api/v1/projects/{project}"
M = P + "/models/{model}"
R = "/api/v1/runs/{run}"

ROUTES: Dict[str, Route] = {
    "listProjects": Route("GET", "/api/v1/projects", True),
    "createProject": Route("POST", "/api/v1/projects", False),
    "getProject": Route("GET", P, True),
    "listModels": Route("GET", P + "/models", True),
    "createModel": Route("POST", P + "/models", False),
    "getModel": Route("GET", M, True),
    "updateModel": Route("PATCH", M, False),
    "deleteModel": Route("DELETE", M, False),
    "modelLog": Route("GET", P + "/log", True),
    "listVersions": Route("GET", M + "/versions", True),
    "getVersion": Route("GET", M + "/versions/{selector}", True),
    # Safe to repeat: every commit carries a request_id, and a repeat returns the first result.
    "createVersion": Route("POST", M + "/versions", True),
    "deleteVersion": Route("DELETE", M + "/versions/{version}", False),
    "listTags": Route("GET", M + "/tags", True),
    "setTag": Route("PUT", M + "/tags/{tag}", True),
    "removeTag": Route("DELETE", M + "/tags/{tag}", False),
    "registerCheckpoint": Route("POST", M + "/register", True),
    "listExperiments": Route("GET", P + "/experiments", True),
    "getExperiment": Route("GET", P + "/experiments/{experiment}", True),
    "createRun": Route("POST", P + "/runs", False),
    "listRuns": Route("GET", P + "/runs", True),
    "getRun": Route("GET", R, True),
    "updateRun": Route("PATCH", R, True),
    "setRunParams": Route("PUT", R + "/params", True),
    "setDataset": Route("PUT", R + "/datasets/{tag}", True),
    "createCheckpoint": Route("POST", R + "/checkpoints", True),
    "listCheckpoints": Route("GET", R + "/checkpoints", True),
    "getCheckpoint": Route("GET", "/api/v1/checkpoints/{uuid}", True),
    # The server's table says not idempotent because a stream cannot be replayed; this client
    # sends batches it keeps until they are acknowledged, and a repeated (name, split, step)
    # replaces the point, so its batches are safe to send again.
    "logMetrics": Route("POST", R + "/metrics", True),
    "readMetrics": Route("GET", R + "/metrics", True),
    "missingBlobs": Route("POST", "/api/v1/blobs/missing", True),
    "storeBlob": Route("POST", "/api/v1/blobs", True),
    "putBlob": Route("PUT", "/api/v1/blobs/sha256/{digest}", True),
    "openBlob": Route("GET", "/api/v1/blobs/sha256/{digest}", True),
    "openapi": Route("GET", "/api/v1/openapi.json", True),
}
