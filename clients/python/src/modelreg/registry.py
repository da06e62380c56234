"""The registry side of the client: models, versions, tags (Determined's habits: ``connect()``,
``create_model``, ``model.add_metadata``, ``model.version(3)``, ``register_version``)."""
from __future__ import annotations

import enum
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from . import _server
from ._config import Settings, UnsupportedYaml, resolve_settings, settings_from_cli
from ._errors import RegistryError, invalid
from ._files import PathLike, as_path_list
from ._http import HttpClient
from ._provenance import collect_source, resolve_author
from ._transfer import commit_with_blobs, download_files, new_request_id, upload_files

if TYPE_CHECKING:
    from .tracking import Checkpoint, Run

_UNSET: Any = object()


class ModelSortBy(str, enum.Enum):
    """How ``models()`` sorts (Determined's ModelSortBy)."""

    NAME = "name"
    DESCRIPTION = "description"
    CREATION_TIME = "creation_time"
    LAST_UPDATED_TIME = "last_updated_time"


class ModelOrderBy(str, enum.Enum):
    ASC = "asc"
    DESC = "desc"
    ASCENDING = "asc"
    DESCENDING = "desc"


def _enum_value(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value.value if isinstance(value, enum.Enum) else str(value)


def _drop_none(values: Mapping[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def connect(
    url: Optional[str] = None,
    token: Optional[str] = None,
    project: Optional[str] = None,
    profile: Optional[str] = None,
    home: Optional[str] = None,
) -> "Registry":
    """Open the registry the configuration names, as the CLI does: arguments, then MODELREG_*,
    then .modelreg.yaml, the profile and the user config. With a server URL it talks to that
    server; without one it starts a private server over the local store (MODELREG_HOME,
    default ~/.modelreg) and stops it when the registry is closed or Python exits."""
    explicit = {"url": url, "token": token, "project": project, "home": home}
    try:
        settings = resolve_settings(explicit, profile)
    except UnsupportedYaml as error:
        try:
            cli = _server.find_cli()
        except RegistryError:
            raise invalid(f"a modelreg config file uses YAML this client reads only through the modelreg CLI ({error}), and the CLI was not found; simplify the file or install the CLI") from None
        settings = settings_from_cli(cli, explicit, profile, os.environ)
    return Registry._open(settings)


class Registry:
    """A registry: a server, or the local store through a private server."""

    project: str
    url: str

    def __init__(self, http: HttpClient, settings: Settings, server: Optional[_server.LocalServer] = None) -> None:
        self._http = http
        self._settings = settings
        self._server = server
        self.project = settings.project
        self.url = http.url
        self._author: Optional[str] = None
        self._source: Optional[Dict[str, Any]] = None
        self._runs: "weakref.WeakSet[Run]" = weakref.WeakSet()
        self._closed = False
        self._lock = threading.Lock()
        _open_registries.add(self)

    @classmethod
    def _open(cls, settings: Settings) -> "Registry":
        if settings.backend == "remote":
            assert settings.url is not None
            registry = cls(HttpClient(settings.url, settings.token), settings)
        else:
            server = _server.acquire(settings.home)
            try:
                http = HttpClient(server.url, None)
            except BaseException:
                _server.release(server)
                raise
            http.revive = server.restart_if_dead
            registry = cls(http, settings, server)
        registry._http._actor = lambda: registry.author
        return registry

    # -- who and where -------------------------------------------------------------------------

    @property
    def author(self) -> str:
        """Recorded as the author of what this registry pushes (MODELREG_AUTHOR, the author
        config key, git user.email, else the OS user)."""
        if self._author is None:
            self._author = resolve_author(self._settings.author)
        return self._author

    @property
    def source(self) -> Dict[str, Any]:
        if self._source is None:
            self._source = collect_source()
        return self._source

    @property
    def home(self) -> Optional[str]:
        """The local store's directory when this registry serves it, else None."""
        return self._server.home if self._server else None

    # -- models --------------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        description: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        labels: Optional[Mapping[str, str]] = None,
        owner: Optional[str] = None,
        task: Optional[str] = None,
    ) -> "Model":
        body = _drop_none({"name": name, "description": description, "metadata": metadata, "labels": labels, "owner": owner, "task": task})
        return Model(self, self._http.json("createModel", {"project": self.project}, body=body))

    def model(self, name: str) -> "Model":
        """The model with this name (``not_found`` if there is none)."""
        return Model(self, self._http.json("getModel", {"project": self.project, "model": name}))

    get_model = model

    def models(
        self,
        sort_by: Union[None, str, ModelSortBy] = None,
        order_by: Union[None, str, ModelOrderBy] = None,
        name: Optional[str] = None,
        description: Optional[str] = None,
        labels: Optional[Mapping[str, str]] = None,
        limit: Optional[int] = None,
        offset: int = 0,
    ) -> List["Model"]:
        """Models of the project: sorted (name, description, creation_time, last_updated_time),
        filtered by a substring of the name or description and by labels; all of them unless
        a limit is given."""
        query: Dict[str, Any] = {
            "sort_by": _enum_value(sort_by),
            "order_by": _enum_value(order_by),
            "name": name,
            "description": description,
            "label": [f"{k}={v}" for k, v in (labels or {}).items()] or None,
        }
        return [Model(self, m) for m in self._pages("listModels", {"project": self.project}, query, limit, offset)]

    get_models = models

    def _pages(self, route: str, params: Mapping[str, Any], query: Mapping[str, Any], limit: Optional[int], offset: int) -> Iterator[Dict[str, Any]]:
        wanted = limit
        while True:
            size = 1000 if wanted is None else min(1000, wanted)
            page = self._http.json(route, params, {**query, "limit": size, "offset": offset})
            yield from page["items"]
            offset += len(page["items"])
            if wanted is not None:
                wanted -= len(page["items"])
                if wanted <= 0:
                    return
            if not page["items"] or offset >= page["total"]:
                return

    def version(self, ref: str) -> "Version":
        """A version by reference: ``name``, ``name:3``, ``name:prod``, ``project/name:tag``."""
        project, name, selector = _parse_ref(ref, self.project)
        return Version(self, self._http.json("getVersion", {"project": project, "model": name, "selector": selector}))

    def projects(self) -> List[Dict[str, Any]]:
        return list(self._pages("listProjects", {}, {}, None, 0))

    def log(self, model: Optional[str] = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Pushes, tag moves and deletions, newest first (``modelreg models log``)."""
        return list(self._pages("modelLog", {"project": self.project}, {"model": model}, limit, 0))

    # -- tracking ------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str,
        name: Optional[str] = None,
        params: Optional[Mapping[str, Any]] = None,
        tags: Optional[Mapping[str, str]] = None,
    ) -> "Run":
        """Start a run in an experiment (created if missing). Use it as a context manager: it
        finishes ``completed``, ``failed`` on an exception, ``killed`` on KeyboardInterrupt."""
        from .tracking import Run

        body = _drop_none({"experiment": experiment, "name": name, "params": params, "tags": tags, "status": "running", "author": self.author, "source": self.source})
        run = Run(self, self._http.json("createRun", {"project": self.project}, body=body), new=True)
        self._runs.add(run)
        return run

    def run(self, run_id: str) -> "Run":
        """A run by id (or a unique prefix of 6 or more characters)."""
        from .tracking import Run

        run = Run(self, self._http.json("getRun", {"run": run_id}))
        self._runs.add(run)
        return run

    def runs(
        self,
        experiment: Optional[str] = None,
        status: Union[None, str, Sequence[str]] = None,
        params: Optional[Mapping[str, Any]] = None,
        where: Optional[str] = None,
        sort_by: Optional[str] = None,
        order_by: Optional[str] = None,
        limit: Optional[int] = None,
        offset: int = 0,
    ) -> List["Run"]:
        """Find runs: ``reg.runs(experiment="mnist", sort_by="metrics.loss[valid]", order_by="asc", limit=1)``."""
        import json

        from .tracking import Run

        query = {
            "experiment": experiment,
            "status": [status] if isinstance(status, str) else (list(status) if status else None),
            "param": [f"{k}={json.dumps(v)}" for k, v in (params or {}).items()] or None,
            "where": where,
            "sort_by": sort_by,
            "order_by": order_by,
        }
        return [Run(self, r) for r in self._pages("listRuns", {"project": self.project}, query, limit, offset)]

    def register(
        self,
        model: str,
        checkpoint_uuid: str,
        comment: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> "Version":
        """Register a run's checkpoint as a new version of `model` (created if needed), with
        its lineage: ``model register NAME UUID``."""
        return Model(self, {"project": self.project, "name": model}).register_version(checkpoint_uuid, comment, tags, metadata)

    def checkpoint(self, uuid: str) -> "Checkpoint":
        from .tracking import Checkpoint

        return Checkpoint(self, self._http.json("getCheckpoint", {"uuid": uuid}))

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Send what runs still buffer, and stop the private server if this was its last user."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        first: Optional[RegistryError] = None
        try:
            for run in list(self._runs):
                try:
                    run._close_sender()
                except RegistryError as error:
                    first = first or error
        finally:
            self._http.close()
            if self._server is not None:
                _server.release(self._server)
            _open_registries.discard(self)
        if first is not None:
            raise first

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"local store {self._server.home}" if self._server else self.url
        return f"<modelreg.Registry {where} project={self.project!r}>"


_open_registries: "weakref.WeakSet[Registry]" = weakref.WeakSet()


def _parse_ref(ref: str, default_project: str) -> "tuple[str, str, str]":
    project = default_project
    rest = ref
    if "/" in rest:
        project, rest = rest.split("/", 1)
    name, _, selector = rest.partition(":")
    if not name:
        raise invalid(f'invalid reference "{ref}": expected [project/]name[:version|tag]')
    return project, name, selector or "latest"


def _selector(version: Union[None, int, str, "Version"]) -> str:
    if version is None:
        return "latest"
    if isinstance(version, Version):
        return str(version.version)
    if isinstance(version, bool):
        raise invalid("a version is a number or a tag, not a boolean")
    return str(version)


class _Record:
    """An entity the API returned, with the registry it came from."""

    def __init__(self, registry: Registry, data: Dict[str, Any]) -> None:
        self._registry = registry
        self._data = data

    @property
    def data(self) -> Dict[str, Any]:
        """The entity as the API gives it (the shape of the CLI's ``--json`` for it)."""
        return self._data


class Model(_Record):
    """A model: a named repository of versions (``data``: as ``modelreg models describe --json``)."""

    name = property(lambda self: self._data["name"])
    project = property(lambda self: self._data["project"])
    description = property(lambda self: self._data["description"])
    owner = property(lambda self: self._data["owner"])
    task = property(lambda self: self._data["task"])
    labels = property(lambda self: self._data["labels"])
    created_at = property(lambda self: self._data["created_at"])
    updated_at = property(lambda self: self._data["updated_at"])
    version_count = property(lambda self: self._data["version_count"])
    latest_version = property(lambda self: self._data["latest_version"])

    @property
    def metadata(self) -> Dict[str, Any]:
        return self._data["metadata"]  # type: ignore[no-any-return]

    def _params(self) -> Dict[str, str]:
        return {"project": self.project, "model": self.name}

    def reload(self) -> "Model":
        self._data = self._registry._http.json("getModel", self._params())
        return self

    def update(
        self,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        task: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        unset: Optional[Iterable[str]] = None,
        labels: Optional[Mapping[str, str]] = None,
        unlabel: Optional[Iterable[str]] = None,
    ) -> "Model":
        """Change the description, owner, task, metadata (merged at the top level; `unset`
        removes keys) or labels (`unlabel` removes keys)."""
        patch = _drop_none({
            "description": description,
            "owner": owner,
            "task": task,
            "metadata": dict(metadata) if metadata is not None else None,
            "unset": list(unset) if unset is not None else None,
            "labels": dict(labels) if labels is not None else None,
            "unlabel": list(unlabel) if unlabel is not None else None,
        })
        self._data = self._registry._http.json("updateModel", self._params(), body=patch)
        return self

    def add_metadata(self, metadata: Mapping[str, Any]) -> "Model":
        """Merge into the metadata at the top level: a key given replaces the key's value."""
        return self.update(metadata=metadata)

    def remove_metadata(self, keys: Iterable[str]) -> "Model":
        return self.update(unset=list(keys))

    def push(
        self,
        paths: Union[PathLike, Iterable[PathLike]],
        comment: Optional[str] = None,
        meta: Optional[Mapping[str, Any]] = None,
        metrics: Optional[Mapping[str, float]] = None,
        attach: Union[None, PathLike, Iterable[PathLike]] = None,
        tags: Optional[Iterable[str]] = None,
        framework: Optional[str] = None,
        format: Optional[str] = None,
        run: Union[None, str, "Run"] = None,
        datasets: Optional[Iterable[Mapping[str, Any]]] = None,
    ) -> "Version":
        """Push files and directories as a new version (``modelreg models push``): only what the
        server lacks is uploaded, streamed; the version appears whole or not at all."""
        return push_version(self._registry, self.project, self.name, paths, comment, meta, metrics, attach, tags, framework, format, run, datasets, on_done=self._pushed)

    def _pushed(self, version: "Version") -> None:
        try:
            self.reload()
        except RegistryError:
            pass

    def versions(self, where: Optional[str] = None, limit: Optional[int] = None) -> List["Version"]:
        """Versions, newest first (without their file lists; ``version(n)`` has them)."""
        items = self._registry._pages("listVersions", self._params(), {"where": where}, limit, 0)
        return [Version(self._registry, v) for v in items]

    get_versions = versions

    def version(self, version: Union[None, int, str] = None) -> "Version":
        """A version by number or tag; the latest without an argument."""
        return Version(self._registry, self._registry._http.json("getVersion", {**self._params(), "selector": _selector(version)}))

    get_version = version

    def tag(self, version: Union[int, str, "Version"], tag: str, expect: Any = _UNSET) -> Dict[str, Any]:
        """Point `tag` at a version (a number, another tag, or a Version). With ``expect=N``
        (or ``expect=None``: the tag must not exist yet) the move happens only if the tag still
        points there, else ``conflict``: a compare-and-swap for promotions."""
        body: Dict[str, Any] = {"selector": _selector(version)}
        if expect is not _UNSET:
            body["expect_previous"] = expect.version if isinstance(expect, Version) else expect
        return self._registry._http.json("setTag", {**self._params(), "tag": tag}, body=body)  # type: ignore[no-any-return]

    def untag(self, tag: str) -> Dict[str, Any]:
        return self._registry._http.json("removeTag", {**self._params(), "tag": tag})  # type: ignore[no-any-return]

    def tags(self) -> List[Dict[str, Any]]:
        """Tags as ``[{"tag", "version", "updated_at"}]``."""
        return self._registry._http.json("listTags", self._params())  # type: ignore[no-any-return]

    def register_version(
        self,
        checkpoint_uuid: str,
        comment: Optional[str] = None,
        tags: Optional[Iterable[str]] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> "Version":
        """A new version from a run's checkpoint (no bytes copied), with its lineage."""
        registry = self._registry
        body = _drop_none({
            "checkpoint": getattr(checkpoint_uuid, "uuid", checkpoint_uuid),
            "author": registry.author,
            "comment": comment,
            "tags": list(tags) if tags is not None else None,
            "metadata": metadata,
            "source": registry.source,
            "request_id": new_request_id(),
        })
        created = registry._http.json("registerCheckpoint", self._params(), body=body)
        version = Version(registry, created["version"])
        self._pushed(version)
        return version

    def log(self, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        return self._registry.log(self.name, limit)

    def delete(self) -> Dict[str, Any]:
        """Delete the model and all its versions (needs an admin token on a server)."""
        return self._registry._http.json("deleteModel", self._params())  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<modelreg.Model {self.project}/{self.name} versions={self.version_count}>"


def push_version(
    registry: Registry,
    project: str,
    model: str,
    paths: Union[PathLike, Iterable[PathLike]],
    comment: Optional[str] = None,
    meta: Optional[Mapping[str, Any]] = None,
    metrics: Optional[Mapping[str, float]] = None,
    attach: Union[None, PathLike, Iterable[PathLike]] = None,
    tags: Optional[Iterable[str]] = None,
    framework: Optional[str] = None,
    format: Optional[str] = None,
    run: Union[None, str, "Run"] = None,
    datasets: Optional[Iterable[Mapping[str, Any]]] = None,
    on_done: Any = None,
) -> "Version":
    http = registry._http
    path_list = as_path_list(paths)
    if not path_list:
        raise invalid("name at least one file or directory to push")
    if isinstance(tags, str):
        tags = [tags]
    parent: Optional[Dict[str, Any]] = None
    try:
        parent = http.json("getVersion", {"project": project, "model": model, "selector": "latest"})
    except RegistryError as error:
        if error.code != "not_found":
            raise
    stored = upload_files(http, path_list, as_path_list(attach) if attach is not None else [], parent)
    body = _drop_none({
        "files": stored.files,
        "attachments": stored.attachments,
        "comment": comment,
        "author": registry.author,
        "metadata": dict(meta) if meta is not None else None,
        "metrics": dict(metrics) if metrics is not None else None,
        "framework": framework,
        "format": format,
        "tags": list(tags) if tags is not None else None,
        "source": registry.source,
        "run_id": getattr(run, "id", run),
        "datasets": [dict(d) for d in datasets] if datasets is not None else None,
        "request_id": new_request_id(),
    })
    def commit() -> Any:
        return http.json("createVersion", {"project": project, "model": model}, body=body)

    created = commit_with_blobs(stored, commit)
    version = Version(registry, created["version"])
    version.model_created = bool(created.get("model_created"))
    version.uploaded = stored.uploaded
    version.reused = stored.reused
    if on_done is not None:
        on_done(version)
    return version


class Version(_Record):
    """One immutable version of a model: files, attachments, metadata, metrics, tags, lineage."""

    model_created: Optional[bool] = None
    """After a push: whether the push created the model."""
    uploaded: Optional[Dict[str, int]] = None
    """After a push: ``{"files", "bytes"}`` sent to the server."""
    reused: Optional[Dict[str, int]] = None
    """After a push: ``{"files", "bytes"}`` the server already held."""


    project = property(lambda self: self._data["project"])
    model = property(lambda self: self._data["model"])
    version = property(lambda self: self._data["version"])
    number = version
    tags = property(lambda self: self._data["tags"])
    comment = property(lambda self: self._data["comment"])
    author = property(lambda self: self._data["author"])
    created_at = property(lambda self: self._data["created_at"])
    metadata = property(lambda self: self._data["metadata"])
    metrics = property(lambda self: self._data["metrics"])
    framework = property(lambda self: self._data["framework"])
    format = property(lambda self: self._data["format"])
    size = property(lambda self: self._data["size"])
    source = property(lambda self: self._data["source"])

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.model}:{self.version}"

    def _full(self) -> Dict[str, Any]:
        if "files" not in self._data:  # a summary from versions(): fetch the manifest
            self._data = self._registry._http.json("getVersion", {"project": self.project, "model": self.model, "selector": str(self.version)})
        return self._data

    @property
    def files(self) -> List[Dict[str, Any]]:
        return self._full()["files"]  # type: ignore[no-any-return]

    @property
    def attachments(self) -> List[Dict[str, Any]]:
        return self._full()["attachments"]  # type: ignore[no-any-return]

    @property
    def lineage(self) -> Optional[Dict[str, Any]]:
        return self._full()["lineage"]  # type: ignore[no-any-return]

    def download(self, directory: PathLike = ".", attachments: bool = False, force: bool = False) -> Dict[str, Any]:
        """Write the files under `directory` (attachments under ``attachments/`` when asked),
        streamed, each verified against its sha256 before it takes its name. Returns
        ``{ref, directory, files, bytes, resumed_bytes}``."""
        data = self._full()
        return download_files(self._registry._http, self.ref, self.project, data["files"], data["attachments"], os.fspath(directory), attachments, force)

    def tag(self, tag: str, expect: Any = _UNSET) -> Dict[str, Any]:
        return Model(self._registry, {"project": self.project, "name": self.model}).tag(self.version, tag, expect)

    def __getitem__(self, key: str) -> Any:
        return self.metadata[key]

    def __repr__(self) -> str:
        return f"<modelreg.Version {self.ref} tags={self.tags}>"
