"""The seed documents' own Python examples, as their users would write them against
modelreg: Rorodata's model repositories and Determined's model registry."""
from __future__ import annotations

import os
import unittest
import warnings
from typing import Any, List

from modelreg import ModelSortBy, RegistryError
from support import OnLocalStore, OnTeamServer, environment, temp_dir, unique


class CreditRiskModel:
    """Stands in for a trained model object (roro saves the object itself)."""

    def __init__(self, weights: List[float]) -> None:
        self.weights = weights

    def predict(self, features: List[float]) -> float:
        return sum(w * f for w, f in zip(self.weights, features))


def train_machine_learning_model() -> CreditRiskModel:
    return CreditRiskModel([0.5, -0.25, 1.0])


class SeedBehaviour:
    def roro_environment(self) -> Any:
        """roro's get_current_project() takes the project from the configuration."""
        project = unique("roro")
        if self.backend == "server":
            return environment(MODELREG_PROJECT=project, MODELREG_URL=self.server.url, MODELREG_TOKEN=self.server.admin_token)
        return environment(MODELREG_PROJECT=project)

    def test_roro_save_and_predict(self) -> None:
        work = temp_dir(self)
        os.chdir(work)
        self.addCleanup(os.chdir, os.path.dirname(__file__))
        with open("log.txt", "w") as handle:
            handle.write("trained on June 2017 data\n")
        with self.roro_environment():
            # --- the seed's first script, word for word but the import --------------------------
            import modelreg as roro

            project = roro.get_current_project()
            model_repo = project.get_model_repository("credit-risk")

            # run the training algorithm to build the model
            model = train_machine_learning_model()

            model_image = model_repo.new_image(model)
            model_image["Input-Data-Source"] = "s3://credit-risk-dataset-201706"
            model_image["Accuracy"] = 0.89
            with warnings.catch_warnings():  # the seed never closes the file it opens here
                warnings.simplefilter("ignore", ResourceWarning)
                model_image.attach("log.txt", open("log.txt"))
            model_image.save(comment="Built new model using the data till June 2017")
            # --------------------------------------------------------------------------------
            self.assertEqual(model_image.version, 1)
            self.addCleanup(project.registry.close)

            # --- the seed's second script ----------------------------------------------------
            project = roro.get_current_project()
            self.addCleanup(project.registry.close)

            # Take the repo for required model
            model_repo = project.get_model_repository("credit-risk")

            # get the image of the latest version or any tag
            model_image = model_repo.get_model_image(tag="latest")

            # get the actual model object
            model = model_repo.get_model()

            def predict(features: List[float]) -> float:
                return model.predict(features)
            # --------------------------------------------------------------------------------

            self.assertEqual(predict([2.0, 4.0, 1.0]), 1.0)
            self.assertEqual(model_image.version, 1)
            self.assertEqual(model_image["Accuracy"], 0.89)
            self.assertEqual(model_image.Accuracy, 0.89)
            self.assertEqual(model_image.get_metadata(), {"Input-Data-Source": "s3://credit-risk-dataset-201706", "Accuracy": 0.89})
            self.assertEqual([a["path"] for a in model_image.get_attachments()], ["log.txt"])
            with self.assertRaises(RegistryError):
                model_image["Accuracy"] = 0.9  # a saved image is a version: immutable

            # The rest of roro's API: files instead of an object, tags, repositories.
            with open("weights.bin", "wb") as handle:
                handle.write(b"\x00\x01weights")
            img = model_repo.new_image(["weights.bin"])
            img["Accuracy"] = 0.91
            img.attach("log.txt")
            img.save(comment="July data")
            self.assertEqual(img.version, 2)
            model_repo.add_tag("prod", 1)
            model_repo.add_tag("staging", img.version)
            self.assertEqual(model_repo.get_tags(), {"latest": 2, "prod": 1, "staging": 2})
            self.assertEqual(model_repo.get_model_image(tag="prod").version, 1)
            self.assertEqual(model_repo.get_model_image(version=2)["Accuracy"], 0.91)
            result = model_repo.get_model_image(tag="staging").download("serving", attachments=True)
            self.assertEqual([f["path"] for f in result["files"]], ["weights.bin", "attachments/log.txt"])
            with open(os.path.join("serving", "weights.bin"), "rb") as handle:
                self.assertEqual(handle.read(), b"\x00\x01weights")
            with self.assertRaises(RegistryError) as not_pickled:
                model_repo.get_model(tag="staging")
            self.assertEqual(not_pickled.exception.code, "invalid_argument")
            project.create_model_repository("churn")
            self.assertEqual([r.name for r in project.list_model_repositories()], ["churn", "credit-risk"])
            with self.assertRaises(RegistryError) as missing:
                project.get_model_repository("nope").get_tags()
            self.assertEqual(missing.exception.code, "not_found")

    def test_determined_registry(self) -> None:
        work = temp_dir(self)
        d = self.new_registry()  # Determined() in the seed
        model = d.create_model("model_name", description="optional description", metadata={"optional": "JSON serializable dictionary"})
        self.assertEqual(model.metadata, {"optional": "JSON serializable dictionary"})
        d.create_model("mnist_cnn", description="a character recognition model", metadata={"dataset_url": "http://yann.lecun.com/exdb/mnist/", "git_url": "http://github.com/user/repo"})
        d.create_model("ocr", description="an ocr model")

        all_models = d.get_models()
        chronological_sort = d.get_models(sort_by=ModelSortBy.CREATION_TIME)
        mnist_models = d.get_models(name="mnist")
        ocr_models = d.get_models(description="ocr")
        self.assertEqual(len(all_models), 3)
        self.assertEqual([m.name for m in chronological_sort], ["model_name", "mnist_cnn", "ocr"])
        self.assertEqual([m.name for m in mnist_models], ["mnist_cnn"])
        self.assertEqual([m.name for m in ocr_models], ["ocr"])

        model = d.get_model("model_name")
        model.add_metadata({"key": "value"})
        model.add_metadata({"metrics": {"test_set_loss": 0.091}})
        self.assertEqual(model.metadata, {"optional": "JSON serializable dictionary", "key": "value", "metrics": {"test_set_loss": 0.091}})
        model.add_metadata({"metrics": {"test_set_acc": 0.97}})
        self.assertEqual(model.metadata["metrics"], {"test_set_acc": 0.97})
        model.remove_metadata(["key"])
        self.assertEqual(d.get_model("model_name").metadata, {"optional": "JSON serializable dictionary", "metrics": {"test_set_acc": 0.97}})

        # An experiment's top checkpoint, registered three times.
        checkpoints = []
        with d.start_run("mnist", name="trial-1") as run:
            for step in range(3):
                path = os.path.join(work, f"ckpt-{step}")
                os.makedirs(path)
                with open(os.path.join(path, "state.pt"), "w") as handle:
                    handle.write(f"state {step}")
                run.log({"validation_loss": 1.0 / (step + 1)}, step=step)
                checkpoints.append(run.checkpoint(path, step=step, metrics={"validation_loss": 1.0 / (step + 1)}))
        for checkpoint in checkpoints:
            model_version = model.register_version(checkpoint.uuid)
        self.assertEqual(model_version.version, 3)

        specific_version = model.get_version(3)
        latest_version = model.get_version()
        model_versions = model.get_versions()
        self.assertEqual(specific_version.lineage["checkpoint"]["uuid"], checkpoints[2].uuid)
        self.assertEqual(latest_version.version, 3)
        self.assertEqual([v.version for v in model_versions], [3, 2, 1])
        out = os.path.join(work, "restored")
        latest_version.download(out)
        with open(os.path.join(out, "state.pt")) as handle:
            self.assertEqual(handle.read(), "state 2")


class SeedsOnTeamServer(SeedBehaviour, OnTeamServer, unittest.TestCase):
    pass


class SeedsOnLocalStore(SeedBehaviour, OnLocalStore, unittest.TestCase):
    pass


if __name__ == "__main__":
    unittest.main()
