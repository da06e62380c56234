"""modelreg: the Python client of the modelreg model registry (standard library only).

    import modelreg
    reg = modelreg.connect()                       # MODELREG_URL / profile, else the local store
    model = reg.create_model("credit-risk", description="Scores loan applications")
    version = model.push(["model.pkl"], comment="first model", metrics={"auc": 0.91}, tags=["staging"])
    model.tag(version.version, "prod")
    with reg.start_run("mnist", name="lr-0.01", params={"lr": 0.01}) as run:
        run.log({"loss": 0.31}, step=0, split="train")

Every failure is a ``modelreg.RegistryError`` whose ``.code`` is the API's error code.
"""
from ._errors import RegistryError
from ._server import find_cli
from .registry import Model, ModelOrderBy, ModelSortBy, Registry, Version, connect
from .roro import ModelImage, ModelRepository, Project, get_current_project
from .tracking import Checkpoint, Run, add_loss_value, add_metric_value, set_status

__version__ = "0.1.0"

__all__ = [
    "Checkpoint",
    "Model",
    "ModelImage",
    "ModelOrderBy",
    "ModelRepository",
    "ModelSortBy",
    "Project",
    "Registry",
    "RegistryError",
    "Run",
    "Version",
    "add_loss_value",
    "add_metric_value",
    "connect",
    "find_cli",
    "get_current_project",
    "set_status",
]
