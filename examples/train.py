"""A training loop that logs to modelreg from Python (MLDB's per-epoch loop, ModelDB's datasets),
then registers the best run's checkpoint as a version and tags it.

    python examples/train.py     (the local store, or whatever MODELREG_* / profiles say)

Needs only Python 3.9+ with the modelreg client (pip install ./clients/python) and, for the
local store, the modelreg CLI on PATH (or MODELREG_CLI naming it)."""
import json
import os
import shutil
import sys
import tempfile

import modelreg


def main() -> int:
    try:
        with modelreg.connect(project=os.environ.get("EXAMPLE_PROJECT", "mnist")) as registry:
            for lr in (0.1, 0.01):
                with registry.start_run("mnist-cnn", name=f"lr-{lr}", params={"lr": lr, "epochs": 3}) as run:
                    run.dataset("train", "s3://mnist/train", metadata={"rows": 60000})
                    for epoch in range(3):
                        train = 1 / (epoch + 1) / (lr * 100)  # stand-ins for real training and validation
                        run.log({"loss": train}, step=epoch, split="train")
                        run.log({"loss": train * 1.2, "accuracy": 1 - train / 2}, step=epoch, split="valid")
                    directory = tempfile.mkdtemp(prefix="ckpt-")
                    try:
                        with open(os.path.join(directory, "model.pt"), "w") as handle:
                            handle.write(f"weights for lr={lr}")
                        run.checkpoint(directory, step=2)
                    finally:
                        shutil.rmtree(directory, ignore_errors=True)  # the registry has its own copy now
            # Which run was best? The lowest final validation loss.
            best = registry.runs(experiment="mnist-cnn", sort_by="metrics.loss[valid]", order_by="asc", limit=1)[0]
            checkpoint = best.checkpoints()[-1]
            version = registry.register("mnist-cnn", checkpoint.uuid, comment=f"best run {best.name}", tags=["champion"])
            print(json.dumps({"best": best.id, "name": best.name, "model": version.model, "version": version.version, "tags": version.tags}))
        return 0
    except modelreg.RegistryError as error:
        # The registry's errors are one clear line each (and an exit code); anything else is a bug.
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
