"""Models, versions, tags and pushes (Determined's API and the CLI's semantics), on a team
server and on the local store through the private server."""
from __future__ import annotations

import hashlib
import os
import unittest

import modelreg
from modelreg import ModelOrderBy, ModelSortBy, RegistryError
from support import OnLocalStore, OnTeamServer, temp_dir, unique


def write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    return path


class RegistryBehaviour:
    def test_create_describe_update_metadata(self) -> None:
        reg = self.new_registry()
        model = reg.create_model("credit-risk", description="Scores loan applications", metadata={"dataset_url": "s3://x"}, labels={"env": "dev"})
        self.assertEqual(model.name, "credit-risk")
        self.assertEqual(model.project, reg.project)
        self.assertEqual(model.description, "Scores loan applications")
        self.assertEqual(model.metadata, {"dataset_url": "s3://x"})
        self.assertEqual(model.labels, {"env": "dev"})
        self.assertIsNone(model.latest_version)
        self.assertEqual(reg.model("credit-risk").metadata, {"dataset_url": "s3://x"})
        # Determined's top-level merge.
        model.add_metadata({"key": "value"})
        model.add_metadata({"metrics": {"test_set_loss": 0.091}})
        self.assertEqual(model.metadata, {"dataset_url": "s3://x", "key": "value", "metrics": {"test_set_loss": 0.091}})
        model.add_metadata({"metrics": {"test_set_acc": 0.97}})
        self.assertEqual(model.metadata["metrics"], {"test_set_acc": 0.97})
        model.remove_metadata(["key", "dataset_url"])
        self.assertEqual(reg.model("credit-risk").metadata, {"metrics": {"test_set_acc": 0.97}})
        model.update(description="new words", labels={"env": "prod"})
        self.assertEqual(reg.model("credit-risk").description, "new words")

    def test_models_sorted_and_filtered(self) -> None:
        reg = self.new_registry()
        for name, description in [("mnist_cnn", "digits"), ("ocr-lines", "an ocr model"), ("mnist_pytorch", "digits again")]:
            reg.create_model(name, description=description)
        self.assertEqual([m.name for m in reg.models(sort_by="name")], ["mnist_cnn", "mnist_pytorch", "ocr-lines"])
        self.assertEqual([m.name for m in reg.models(sort_by=ModelSortBy.NAME, order_by=ModelOrderBy.DESC)], ["ocr-lines", "mnist_pytorch", "mnist_cnn"])
        self.assertEqual([m.name for m in reg.get_models(sort_by=ModelSortBy.CREATION_TIME)], ["mnist_cnn", "ocr-lines", "mnist_pytorch"])
        self.assertEqual(sorted(m.name for m in reg.models(name="mnist")), ["mnist_cnn", "mnist_pytorch"])
        self.assertEqual([m.name for m in reg.models(description="ocr")], ["ocr-lines"])
        self.assertEqual(len(reg.models(limit=2)), 2)

    def test_push_versions_tags_download(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        model_dir = os.path.join(work, "model")
        write(os.path.join(model_dir, "weights.bin"), "weights v1")
        write(os.path.join(model_dir, "config", "params.json"), '{"layers": 3}')
        log = write(os.path.join(work, "log.txt"), "epoch 1 loss 0.3")
        model = reg.create_model("credit-risk")
        v1 = model.push(model_dir, comment="first", meta={"Input-Data-Source": "s3://credit-risk-201706"}, metrics={"accuracy": 0.89}, attach=log, tags=["staging"], framework="sklearn", format="pickle")
        self.assertEqual(v1.version, 1)
        self.assertFalse(v1.model_created)
        self.assertEqual(v1.uploaded, {"files": 3, "bytes": 10 + 13 + 16})
        self.assertEqual(sorted(v1.tags), ["latest", "staging"])
        self.assertEqual([f["path"] for f in v1.files], ["config/params.json", "weights.bin"])
        self.assertEqual(v1.files[1]["sha256"], hashlib.sha256(b"weights v1").hexdigest())
        self.assertEqual([a["path"] for a in v1.attachments], ["log.txt"])
        self.assertEqual(v1.metadata, {"Input-Data-Source": "s3://credit-risk-201706"})
        self.assertEqual(v1.metrics, {"accuracy": 0.89})
        self.assertEqual(v1.author, "tester@example.com")
        self.assertEqual(model.latest_version, 1)
        # An unchanged re-push uploads nothing.
        v2 = model.push(model_dir, comment="same bytes")
        self.assertEqual((v2.version, v2.uploaded["files"], v2.reused["files"]), (2, 0, 2))
        # Same size as before: hashed, found missing, sent by digest (PUT).
        write(os.path.join(model_dir, "weights.bin"), "weights v2")
        v3 = model.push([model_dir], comment="changed")
        self.assertEqual(v3.uploaded, {"files": 1, "bytes": 10})
        self.assertEqual(v3.files[1]["sha256"], hashlib.sha256(b"weights v2").hexdigest())
        write(os.path.join(model_dir, "weights.bin"), "weights v3!")
        v3 = model.push([model_dir], comment="changed")
        self.assertEqual(v3.uploaded, {"files": 1, "bytes": 11})
        self.assertEqual([v.version for v in model.versions()], [4, 3, 2, 1])
        self.assertEqual([v.version for v in model.get_versions(limit=2)], [4, 3])
        self.assertEqual(model.version().version, 4)
        self.assertEqual(model.version(1).comment, "first")
        self.assertEqual(model.version("staging").version, 1)
        self.assertEqual(model.get_version(2).version, 2)
        self.assertEqual(reg.version(f"{reg.project}/credit-risk:staging").version, 1)
        self.assertEqual(reg.version("credit-risk").version, 4)
        # Tags: create, move with a compare-and-swap, list, remove.
        self.assertEqual(model.tag(1, "prod")["previous"], None)
        self.assertEqual(model.tag(4, "prod", expect=1)["previous"], 1)
        with self.assertRaises(RegistryError) as stale:
            model.tag(2, "prod", expect=1)
        self.assertEqual(stale.exception.code, "conflict")
        with self.assertRaises(RegistryError) as exists:
            model.tag(2, "prod", expect=None)
        self.assertEqual(exists.exception.code, "conflict")
        self.assertEqual(model.tag("staging", "champion", expect=None)["version"], 1)
        self.assertEqual({t["tag"]: t["version"] for t in model.tags()}, {"latest": 4, "prod": 4, "staging": 1, "champion": 1})
        model.untag("champion")
        self.assertNotIn("champion", [t["tag"] for t in model.tags()])
        # Download: verified, attachments on demand, no overwrite without force.
        target = os.path.join(work, "serving")
        result = model.version("staging").download(target, attachments=True)
        self.assertEqual(result["bytes"], 10 + 13 + 16)
        with open(os.path.join(target, "weights.bin")) as handle:
            self.assertEqual(handle.read(), "weights v1")
        with open(os.path.join(target, "attachments", "log.txt")) as handle:
            self.assertEqual(handle.read(), "epoch 1 loss 0.3")
        with self.assertRaises(RegistryError) as clash:
            model.version("prod").download(target)
        self.assertEqual(clash.exception.code, "conflict")
        model.version("prod").download(target, force=True)
        with open(os.path.join(target, "weights.bin")) as handle:
            self.assertEqual(handle.read(), "weights v3!")
        self.assertEqual(len([e for e in reg.log("credit-risk") if e["type"] == "version.created"]), 4)

    def test_an_interrupted_download_resumes(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        body = os.urandom(3 * 1024 * 1024 + 7)
        source = os.path.join(work, "w.bin")
        with open(source, "wb") as handle:
            handle.write(body)
        version = reg.create_model("m").push(source)
        digest = version.files[0]["sha256"]
        target = os.path.join(work, "out")
        os.makedirs(target)
        part = os.path.join(target, f".w.bin.{digest[:16]}.modelreg-part")
        with open(part, "wb") as handle:  # what a download cut off after 1 MiB leaves
            handle.write(body[: 1024 * 1024])
        result = version.download(target)
        self.assertEqual(result["resumed_bytes"], 1024 * 1024)
        with open(os.path.join(target, "w.bin"), "rb") as handle:
            self.assertEqual(handle.read(), body)
        self.assertFalse(os.path.exists(part))
        # A part file whose bytes are wrong fails the digest: nothing at the final path, and the
        # part is removed so that the next try starts clean.
        again = os.path.join(work, "again")
        os.makedirs(again)
        with open(os.path.join(again, os.path.basename(part)), "wb") as handle:
            handle.write(b"x" * 1024)
        with self.assertRaises(RegistryError) as bad:
            version.download(again)
        self.assertEqual(bad.exception.code, "integrity")
        self.assertEqual(os.listdir(again), [])
        version.download(again)
        with open(os.path.join(again, "w.bin"), "rb") as handle:
            self.assertEqual(handle.read(), body)

    def test_a_hostile_manifest_writes_nothing_outside(self) -> None:
        from modelreg._transfer import download_entries

        good = {"size": 1, "sha256": "0" * 64, "mode": 0o644}
        for path in ("../evil", "/etc/passwd", "a/../../b", "a\\b", "CON", "a/./b", "x/", "dir/name. "):
            with self.assertRaises(RegistryError, msg=path) as refused:
                download_entries([{**good, "path": path}], [], False)
            self.assertEqual(refused.exception.code, "invalid_argument")
        with self.assertRaises(RegistryError):
            download_entries([{**good, "path": "A.txt"}, {**good, "path": "a.txt"}], [], False)
        work = temp_dir(self)
        outside = os.path.join(work, "outside")
        os.makedirs(outside)
        target = os.path.join(work, "target")
        os.makedirs(target)
        os.symlink(outside, os.path.join(target, "link"))
        reg = self.new_registry()
        source = os.path.join(work, "src", "link", "f.txt")
        write(source, "data")
        version = reg.create_model("m").push(os.path.join(work, "src"))
        with self.assertRaises(RegistryError) as through_link:
            version.download(target)
        self.assertEqual(through_link.exception.code, "invalid_argument")
        self.assertEqual(os.listdir(outside), [])

    def test_push_creates_the_model(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        path = write(os.path.join(work, "m.bin"), "x")
        version = reg.create_model("a").push(path)
        self.assertEqual(version.version, 1)
        from modelreg.registry import Model

        created = Model(reg, {"project": reg.project, "name": "brand-new"}).push(path)
        self.assertTrue(created.model_created)
        self.assertEqual(reg.model("brand-new").latest_version, 1)

    def test_connections_are_reused(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        model = reg.create_model("many")
        fds = lambda: len(os.listdir("/proc/self/fd"))  # noqa: E731
        before = None
        for i in range(15):
            directory = os.path.join(work, f"v{i}")
            for k in range(6):  # six new files: uploaded four at a time, each thread a connection
                write(os.path.join(directory, f"f{k}.bin"), f"{i}-{k}")
            model.push(directory)
            model.version().download(os.path.join(work, f"out{i}"))
            if i == 2:
                before = fds()
        self.assertLessEqual(fds() - before, 2)

    def test_values_that_are_not_json(self) -> None:
        reg = self.new_registry()
        for metadata in ({"x": float("nan")}, {"x": object()}):
            with self.assertRaises(RegistryError) as bad:
                reg.create_model("m", metadata=metadata)
            self.assertEqual(bad.exception.code, "invalid_argument")

    def test_error_codes(self) -> None:
        reg = self.new_registry()
        with self.assertRaises(RegistryError) as missing:
            reg.model("credit-rsik")
        self.assertEqual(missing.exception.code, "not_found")
        self.assertEqual(str(missing.exception), f'model "credit-rsik" not found in project "{reg.project}"')
        self.assertEqual(missing.exception.exit_code, 3)
        model = reg.create_model("credit-risk")
        with self.assertRaises(RegistryError) as twice:
            reg.create_model("Credit-Risk")
        self.assertIn(twice.exception.code, ("already_exists", "conflict"))
        with self.assertRaises(RegistryError) as bad:
            reg.create_model("-bad name")
        self.assertEqual(bad.exception.code, "invalid_argument")
        with self.assertRaises(RegistryError) as no_version:
            model.version(9)
        self.assertEqual(no_version.exception.code, "not_found")
        with self.assertRaises(RegistryError) as no_file:
            model.push(os.path.join(temp_dir(self), "absent.bin"))
        self.assertEqual(no_file.exception.code, "not_found")
        with self.assertRaises(RegistryError) as bad_tag:
            model.tag(1, "latest")
        self.assertIn(bad_tag.exception.code, ("invalid_argument", "not_found"))

    def test_register_a_checkpoint(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        ckpt = os.path.join(work, "ckpt")
        write(os.path.join(ckpt, "model.pt"), "weights")
        with reg.start_run("mnist", name="lr-0.1", params={"lr": 0.1}) as run:
            run.log({"loss": 0.5}, step=0)
            checkpoint = run.checkpoint(ckpt, step=0, metrics={"val_loss": 0.5})
        model = reg.create_model("mnist_cnn")
        version = model.register_version(checkpoint.uuid, comment="best", tags=["champion"])
        self.assertEqual(version.version, 1)
        self.assertIn("champion", version.tags)
        self.assertEqual(version.lineage["run"]["id"], run.id)
        self.assertEqual(version.lineage["checkpoint"]["uuid"], checkpoint.uuid)
        self.assertEqual(version.lineage["params"], {"lr": 0.1})
        self.assertEqual(model.latest_version, 1)
        with self.assertRaises(RegistryError) as unknown:
            model.register_version("6a24d772-f1f7-4655-9061-22d582afd96c")
        self.assertEqual(unknown.exception.code, "not_found")


class RegistryOnTeamServer(RegistryBehaviour, OnTeamServer, unittest.TestCase):
    def test_tokens(self) -> None:
        project = unique("proj")
        with self.connect(project=project, token="mr_not_a_token") as reg:
            with self.assertRaises(RegistryError) as denied:
                reg.models()
            self.assertEqual(denied.exception.code, "unauthenticated")
        with self.connect(project=project, token=self.server.read_token) as reg:
            self.assertEqual(reg.models(), [])
            with self.assertRaises(RegistryError) as read_only:
                reg.create_model("x")
            self.assertEqual(read_only.exception.code, "permission_denied")
            # An upload the server refuses before reading it all: its answer, not "connection lost".
            big = os.path.join(temp_dir(self), "big.bin")
            with open(big, "wb") as handle:
                handle.truncate(32 * 1024 * 1024)
            with self.assertRaises(RegistryError) as refused:
                from modelreg.registry import Model

                Model(reg, {"project": project, "name": "x"}).push(big)
            self.assertEqual(refused.exception.code, "permission_denied")
            self.assertEqual(reg.models(), [])

    def test_unreachable(self) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        reg = modelreg.connect(url=f"http://127.0.0.1:{port}", token="x")
        self.addCleanup(reg.close)
        with self.assertRaises(RegistryError) as down:
            reg.models()
        self.assertEqual(down.exception.code, "unavailable")
        self.assertEqual(str(down.exception), f"cannot reach the modelreg server at http://127.0.0.1:{port}: connection refused")


class RegistryOnLocalStore(RegistryBehaviour, OnLocalStore, unittest.TestCase):
    def test_a_damaged_blob_is_refused(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        path = write(os.path.join(work, "m.bin"), "precious bytes " + unique())
        version = reg.create_model("m").push(path)
        digest = version.files[0]["sha256"]
        blob = os.path.join(os.environ["MODELREG_HOME"], "blobs", "sha256", digest[:2], digest[2:])
        os.chmod(blob, 0o644)
        with open(blob, "r+b") as handle:
            handle.write(b"P")
        target = os.path.join(work, "out")
        with self.assertRaises(RegistryError) as damaged:
            version.download(target)
        self.assertEqual(damaged.exception.code, "integrity")
        self.assertFalse(os.path.exists(os.path.join(target, "m.bin")))
        self.assertEqual([n for n in os.listdir(target) if not n.startswith(".")], [])


if __name__ == "__main__":
    unittest.main()
