"""Rorodata's model repositories: ``project.get_model_repository(name)``, ``repo.new_image(model)``,
``image["Accuracy"] = 0.89``, ``image.attach("log.txt")``, ``image.save(comment)``,
``repo.get_model_image(tag="latest")``, ``repo.get_tags()``, ``repo.add_tag(tag, version)``."""
from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from typing import IO, Any, Dict, Iterable, List, Optional, Union

from ._errors import RegistryError, invalid
from ._files import PathLike
from .registry import Model, Registry, Version, connect, push_version

PICKLE_FILE = "model.pkl"
PICKLE_FORMAT = "pickle"


def get_current_project(name: Optional[str] = None, **connect_options: Any) -> "Project":
    """The project the configuration names (MODELREG_PROJECT, a profile, ``project`` in the
    config; default ``default``), or `name`."""
    return Project(connect(project=name, **connect_options))


def _is_paths(value: Any) -> bool:
    if isinstance(value, (str, os.PathLike)):
        return True
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(isinstance(v, (str, os.PathLike)) for v in value)


class Project:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.name = registry.project

    def get_model_repository(self, name: str) -> "ModelRepository":
        """The repository `name`. Saving an image into a repository that does not exist yet
        creates it, as a push does."""
        return ModelRepository(self.registry, name)

    def create_model_repository(self, name: str, description: Optional[str] = None) -> "ModelRepository":
        self.registry.create_model(name, description=description)
        return ModelRepository(self.registry, name)

    def list_model_repositories(self) -> List["ModelRepository"]:
        return [ModelRepository(self.registry, m.name) for m in self.registry.models(sort_by="name")]

    def __repr__(self) -> str:
        return f"<modelreg.roro.Project {self.name}>"


class ModelRepository:
    def __init__(self, registry: Registry, name: str) -> None:
        self.registry = registry
        self.name = name

    def _model(self) -> Model:
        return Model(self.registry, {"project": self.registry.project, "name": self.name})

    def new_image(self, model: Any) -> "ModelImage":
        """A new image of files (a path or a list of paths), or of a Python object, which is
        saved pickled as ``model.pkl``. Add metadata and attachments, then ``save()``."""
        return ModelImage(self, pending=model)

    new_model_image = new_image

    def get_model_image(self, version: Optional[int] = None, tag: Optional[str] = None) -> "ModelImage":
        """The image of a version number or a tag (``latest`` when neither is given)."""
        if version is not None and tag is not None:
            raise invalid("give a version or a tag, not both")
        selector = str(version) if version is not None else (tag or "latest")
        return ModelImage(self, saved=self._model().version(selector))

    def get_images(self) -> List["ModelImage"]:
        return [ModelImage(self, saved=v) for v in self._model().versions()]

    def get_tags(self) -> Dict[str, int]:
        """Tags of the repository and the version each points at, ``latest`` included."""
        return {t["tag"]: t["version"] for t in self._model().tags()}

    def add_tag(self, tag: str, version: Union[int, str]) -> Dict[str, Any]:
        """Point `tag` at `version` (a number, or another tag)."""
        return self._model().tag(version, tag)

    def get_model(self, version: Optional[int] = None, tag: Optional[str] = None) -> Any:
        """The Python object an image was made from (see ``ModelImage.get_model``)."""
        return self.get_model_image(version, tag).get_model()

    def __repr__(self) -> str:
        return f"<modelreg.roro.ModelRepository {self.registry.project}/{self.name}>"


class ModelImage:
    """One version of a model with its metadata and attachments; metadata reads and writes
    like a dictionary (``image["Accuracy"] = 0.89``) or as attributes."""

    repository: ModelRepository
    _pending: Any
    _saved: Optional[Version]
    _metadata: Dict[str, Any]
    _attachments: List[str]
    _temp: Optional[str]

    def __init__(self, repository: ModelRepository, pending: Any = None, saved: Optional[Version] = None) -> None:
        object.__setattr__(self, "repository", repository)
        object.__setattr__(self, "_pending", pending)
        object.__setattr__(self, "_saved", saved)
        object.__setattr__(self, "_metadata", dict(saved.metadata) if saved is not None else {})
        object.__setattr__(self, "_attachments", [])
        object.__setattr__(self, "_temp", None)

    # -- metadata ------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._metadata[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_unsaved()
        self._metadata[key] = value

    def __contains__(self, key: str) -> bool:
        return key in self._metadata

    def __getattr__(self, name: str) -> Any:
        metadata = object.__getattribute__(self, "_metadata")
        if name in metadata:
            return metadata[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or name in type(self).__dict__:
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def get_metadata(self) -> Dict[str, Any]:
        return dict(self._metadata)

    def set_metadata(self, metadata: Dict[str, Any]) -> None:
        self._check_unsaved()
        object.__setattr__(self, "_metadata", dict(metadata))

    # -- files ---------------------------------------------------------------------------------

    def attach(self, filename: PathLike, fileobj: Optional[IO[Any]] = None) -> None:
        """Attach a file: a path, or (roro's form) a name and an open file to read it from."""
        self._check_unsaved()
        if fileobj is None:
            self._attachments.append(os.fspath(filename))
            return
        path = os.path.join(self._scratch(), os.path.basename(os.fspath(filename)))
        with open(path, "wb") as out:
            while True:
                chunk = fileobj.read(1024 * 1024)
                if not chunk:
                    break
                out.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)
        self._attachments.append(path)

    def get_attachments(self) -> List[Any]:
        """Saved: the attachments' entries (path, size, sha256); unsaved: the files given."""
        if self._saved is not None:
            return list(self._saved.attachments)
        return list(self._attachments)

    def _scratch(self) -> str:
        if self._temp is None:
            object.__setattr__(self, "_temp", tempfile.mkdtemp(prefix="modelreg-image-"))
        assert self._temp is not None
        return self._temp

    def _check_unsaved(self) -> None:
        if self._saved is not None:
            raise RegistryError("conflict", f"image {self._saved.ref} is saved; versions cannot change (make a new image)")

    def save(self, comment: str = "") -> "ModelImage":
        """Save the image as a new version of the repository (created if needed)."""
        self._check_unsaved()
        try:
            fmt = None
            if _is_paths(self._pending):
                paths: Union[PathLike, Iterable[PathLike]] = self._pending
            elif self._pending is None:
                raise invalid("an image needs a model: new_image(path), new_image([paths]) or new_image(obj)")
            else:
                paths = os.path.join(self._scratch(), PICKLE_FILE)
                with open(paths, "wb") as out:
                    pickle.dump(self._pending, out, protocol=pickle.HIGHEST_PROTOCOL)
                fmt = PICKLE_FORMAT
            registry = self.repository.registry
            version = push_version(registry, registry.project, self.repository.name, paths, comment=comment, meta=self._metadata, attach=self._attachments or None, format=fmt)
        finally:
            if self._temp is not None:
                shutil.rmtree(self._temp, ignore_errors=True)
                object.__setattr__(self, "_temp", None)
        object.__setattr__(self, "_saved", version)
        object.__setattr__(self, "_metadata", dict(version.metadata))
        return self

    @property
    def version(self) -> Optional[int]:
        """The version number (None until saved)."""
        return self._saved.version if self._saved is not None else None

    @property
    def model_version(self) -> Optional[Version]:
        """The saved version as a modelreg Version."""
        return self._saved

    def download(self, directory: PathLike = ".", attachments: bool = False, force: bool = False) -> Dict[str, Any]:
        if self._saved is None:
            raise invalid("save the image before downloading it")
        return self._saved.download(directory, attachments=attachments, force=force)

    def get_model(self) -> Any:
        """The object an image was made from with ``new_image(obj)``: unpickled, so only for
        registries you trust. An image of files has no object: ``download()`` its files."""
        if self._saved is None:
            return self._pending
        if self._saved.format != PICKLE_FORMAT:
            raise invalid(f"{self._saved.ref} holds files, not a pickled object: download() them and load them with your framework")
        scratch = tempfile.mkdtemp(prefix="modelreg-model-")
        try:
            self._saved.download(scratch)
            with open(os.path.join(scratch, PICKLE_FILE), "rb") as handle:
                return pickle.load(handle)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def __repr__(self) -> str:
        state = self._saved.ref if self._saved is not None else "unsaved"
        return f"<modelreg.roro.ModelImage {state}>"
