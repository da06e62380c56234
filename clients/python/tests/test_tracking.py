"""Runs: the context manager's statuses, buffered metric logging (100,000 points with the
server restarted in the middle: nothing lost, nothing doubled), datasets, checkpoints, and
MLDB's and ModelDB's habits, on a team server and on the local store."""
from __future__ import annotations

import hashlib
import math
import os
import signal
import threading
import time
import unittest

import modelreg
from modelreg import RegistryError, add_loss_value, add_metric_value, set_status
from support import OnLocalStore, OnTeamServer, temp_dir

POINTS = 100_000


def loss_at(step: int) -> float:
    return 1.0 / (1.0 + step) + (step % 7) * 1e-6


class TrackingBehaviour:
    def restart_server_in_background(self, reg: modelreg.Registry) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_run_params_series_datasets_checkpoints(self) -> None:
        reg = self.new_registry()
        work = temp_dir(self)
        with reg.start_run("mnist-cnn", name="lr-0.01", params={"lr": 0.01, "epochs": 3}) as run:
            self.assertRegex(run.id, r"^[0-9a-f]{12}$")
            self.assertEqual(run.params, {"lr": 0.01, "epochs": 3})
            self.assertEqual((run.name, run.experiment, run.status), ("lr-0.01", "mnist-cnn", "running"))
            run.set_params({"optimizer": "adam"})
            self.assertEqual(run.params, {"lr": 0.01, "epochs": 3, "optimizer": "adam"})
            with self.assertRaises(RegistryError) as changed:
                run.set_params({"lr": 0.1})
            self.assertEqual(changed.exception.code, "conflict")
            # Steps computed here, per series: train and valid count on their own.
            for epoch in range(3):
                run.log({"loss": 1.0 / (epoch + 1)}, split="train")
                run.log({"loss": 1.2 / (epoch + 1), "accuracy": 0.5 + epoch / 10}, split="valid")
            run.log({"lr": 0.01}, step=10)
            run.log({"lr": 0.005})  # one past the series' last step: 11
            dataset = run.dataset("train", "./data/../train.csv", metadata={"num_cols": 15, "dist": "random"})
            self.assertEqual(dataset["uri"], "./data/../train.csv")
            self.assertIsNone(dataset["sha256"])
            data_file = os.path.join(work, "test.csv")
            with open(data_file, "wb") as handle:
                handle.write(b"a,b\n1,2\n")
            hashed = run.dataset("test", data_file, hash=True)
            self.assertEqual((hashed["sha256"], hashed["size"]), (hashlib.sha256(b"a,b\n1,2\n").hexdigest(), 8))
            data_dir = os.path.join(work, "data")
            os.makedirs(os.path.join(data_dir, "sub"))
            for name, body in (("x.csv", b"x"), ("sub/y.csv", b"yy")):
                with open(os.path.join(data_dir, name), "wb") as handle:
                    handle.write(body)
            manifest = "".join(f"{hashlib.sha256(b).hexdigest()}  {p}\n" for p, b in (("sub/y.csv", b"yy"), ("x.csv", b"x")))
            self.assertEqual(run.dataset("valid", data_dir, hash=True)["sha256"], hashlib.sha256(manifest.encode()).hexdigest())
            ckpt = os.path.join(work, "ckpt")
            os.makedirs(ckpt)
            with open(os.path.join(ckpt, "model.pt"), "w") as handle:
                handle.write("weights")
            checkpoint = run.checkpoint(ckpt, step=2, metrics={"val_loss": 0.4})
            self.assertEqual((checkpoint.step, checkpoint.metrics), (2, {"val_loss": 0.4}))
            self.assertEqual([c.uuid for c in run.checkpoints()], [checkpoint.uuid])
            out = os.path.join(work, "restored")
            checkpoint.download(out)
            with open(os.path.join(out, "model.pt")) as handle:
                self.assertEqual(handle.read(), "weights")
            self.assertEqual(reg.checkpoint(checkpoint.uuid).files[0]["path"], "model.pt")
        self.assertEqual(run.status, "completed")
        points = run.metrics()
        series = {}
        for p in points:
            series.setdefault((p["name"], p["split"]), []).append((p["step"], p["value"]))
        self.assertEqual(series[("loss", "train")], [(0, 1.0), (1, 0.5), (2, 1.0 / 3)])
        self.assertEqual([s for s, _ in series[("loss", "valid")]], [0, 1, 2])
        self.assertEqual(series[("lr", "")], [(10, 0.01), (11, 0.005)])
        full = reg.run(run.id).data
        self.assertEqual(full["status"], "completed")
        self.assertEqual(sorted(d["tag"] for d in full["datasets"]), ["test", "train", "valid"])
        self.assertAlmostEqual(full["metrics"]["loss[valid]"], 0.4)
        # A run handle found again continues each series where it stopped.
        found = reg.runs(experiment="mnist-cnn", sort_by="metrics.loss[valid]", order_by="asc", limit=1)
        self.assertEqual([r.id for r in found], [run.id])
        with self.assertRaises(RegistryError) as finished:
            reg.run(run.id).log({"loss": 1})
        self.assertEqual(finished.exception.code, "conflict")
        # The same words the server and the CLI use.
        self.assertIn(f"run {run.id} already finished (completed): it takes no more points", str(finished.exception))

    def test_steps_continue_on_a_found_run(self) -> None:
        reg = self.new_registry()
        run = reg.start_run("e", name="resumed")
        run.log({"loss": 1.0})
        run.log({"loss": 0.9})
        run.flush()
        again = reg.run(run.id)
        again.log({"loss": 0.8})
        again.finish()
        self.assertEqual([p["step"] for p in again.metrics(name="loss")], [0, 1, 2])

    def test_context_manager_statuses(self) -> None:
        reg = self.new_registry()
        with reg.start_run("statuses", name="ok") as completed:
            completed.log({"loss": 1.0})
        with self.assertRaises(ValueError):
            with reg.start_run("statuses", name="boom") as failed:
                failed.log({"loss": 1.0})
                raise ValueError("diverged")
        with self.assertRaises(KeyboardInterrupt):
            with reg.start_run("statuses", name="ctrl-c") as killed:
                killed.log({"loss": 1.0})
                raise KeyboardInterrupt()
        with reg.start_run("statuses", name="explicit") as explicit:
            explicit.finish("killed")
        statuses = {r.name: r.status for r in reg.runs(experiment="statuses")}
        self.assertEqual(statuses, {"ok": "completed", "boom": "failed", "ctrl-c": "killed", "explicit": "killed"})
        # Each run kept the point logged before it ended.
        for run in (completed, failed, killed):
            self.assertEqual(len(reg.run(run.id).metrics()), 1)

    def test_bad_points_fail_at_the_call(self) -> None:
        reg = self.new_registry()
        with reg.start_run("bad") as run:
            for values, kwargs in [
                ({"bad name!": 1.0}, {}),
                ({"loss": float("nan")}, {}),
                ({"loss": float("inf")}, {}),
                ({"loss": "high"}, {}),
                ({"loss": 1.0}, {"step": -1}),
                ({"loss": 1.0}, {"step": 1.5}),
                ({"loss": 1.0}, {"step": 2**53}),
                ({"loss": 1.0}, {"split": "no spaces"}),
            ]:
                with self.assertRaises(RegistryError, msg=str((values, kwargs))) as bad:
                    run.log(values, **kwargs)
                self.assertEqual(bad.exception.code, "invalid_argument")
            run.log({"loss": 1})  # an int is a number too
        self.assertEqual([(p["step"], p["value"]) for p in run.metrics()], [(0, 1)])

    def test_points_the_server_refuses_are_reported(self) -> None:
        reg = self.new_registry()
        run = reg.start_run("refused")
        run.log({"loss": 1.0})
        run.flush()
        with self.connect(project=reg.project) as other:
            other.run(run.id).delete()
        run.log({"loss": 0.5})
        with self.assertRaises(RegistryError) as gone:
            run.flush()
        self.assertEqual(gone.exception.code, "not_found")
        with self.assertRaises(RegistryError) as finish:
            run.finish()
        self.assertEqual(finish.exception.code, "not_found")

    def test_mldb_script(self) -> None:
        # MLDB's README loop, with a modelreg run in place of its experiment name.
        reg = self.new_registry()
        with reg.start_run("TestModel", name=time.strftime("%Y%m%d_%H%M%S_TestModel")) as run:
            set_status(run, "TRAINING")
            for epoch in range(100):
                average_epoch_training_loss = 1.0 / (epoch + 1)
                add_loss_value(run, "train", epoch, average_epoch_training_loss)
                average_epoch_valid_loss = 1.1 / (epoch + 1)
                add_loss_value(run, "valid", epoch, average_epoch_valid_loss)
                rmse = math.sqrt(average_epoch_valid_loss)
                add_metric_value(run, "rmse", epoch, rmse)
            set_status(run, "COMPLETE")
        self.assertEqual(reg.run(run.id).status, "completed")
        summaries = {(s["name"], s["split"]): s for s in reg.run(run.id).data["metric_summaries"]}
        self.assertEqual({k: s["count"] for k, s in summaries.items()}, {("loss", "train"): 100, ("loss", "valid"): 100, ("rmse", ""): 100})
        self.assertEqual(summaries[("loss", "train")]["last"], 0.01)
        with self.assertRaises(RegistryError):
            set_status(run, "SOMETHING")

    def test_modeldb_datasets_and_metrics(self) -> None:
        # ModelDB's light API: datasets with tags and metadata, a model config, metrics.
        reg = self.new_registry()
        with reg.start_run("churn", name="NN", params={"model_type": "NN", "l1": 10}) as run:
            datasets = {"train": ("/path/to/train", {"num_cols": 15, "dist": "random"}), "test": ("/path/to/test", {"num_cols": 15, "dist": "gaussian"})}
            for tag, (path, metadata) in datasets.items():
                run.dataset(tag, path, metadata=metadata)
            run.log({"accuracy": 0.8}, split="test")
        full = reg.run(run.id).data
        self.assertEqual({d["tag"]: (d["uri"], d["metadata"]) for d in full["datasets"]}, {"train": ("/path/to/train", {"num_cols": 15, "dist": "random"}), "test": ("/path/to/test", {"num_cols": 15, "dist": "gaussian"})})
        self.assertEqual(full["params"], {"model_type": "NN", "l1": 10})
        self.assertEqual(full["metrics"], {"accuracy[test]": 0.8})

    def test_100k_points_with_a_server_restart(self) -> None:
        reg = self.new_registry()
        run = reg.start_run("long", name="100k")
        # Should an assertion fail, end the run here rather than leave its points to the exit handler.
        self.addCleanup(lambda: run._finished or run.finish("failed"))
        restart_at = POINTS // 3
        restarted = threading.Event()
        spent = 0.0
        clock = time.perf_counter
        for step in range(POINTS):
            if step == restart_at:
                self.restart_server_in_background(reg, restarted)
            began = clock()
            run.log({"loss": loss_at(step)}, step=step)
            spent += clock() - began
            if step % 1000 == 999:
                time.sleep(0.01)  # the rest of a training step
        print(f"\n    {self.backend}: {POINTS:,} points logged from a loop: log() cost the loop {spent:.3f} s in total ({spent / POINTS * 1e6:.2f} us a point)", flush=True)
        self.assertLess(spent, 1.0)
        self.assertTrue(restarted.wait(120), "the server did not come back")
        began = time.monotonic()
        run.finish()
        print(f"    {self.backend}: finish() sent the rest in {time.monotonic() - began:.2f} s", flush=True)
        points = run.metrics(name="loss")
        self.assertEqual(len(points), POINTS)
        self.assertEqual([p["step"] for p in points], list(range(POINTS)))
        self.assertTrue(all(p["value"] == loss_at(p["step"]) for p in points))
        summary = reg.run(run.id).data["metric_summaries"]
        self.assertEqual([(s["name"], s["count"], s["last_step"]) for s in summary], [("loss", POINTS, POINTS - 1)])


class TrackingOnTeamServer(TrackingBehaviour, OnTeamServer, unittest.TestCase):
    def restart_server_in_background(self, reg: modelreg.Registry, done: threading.Event) -> None:
        def restart() -> None:
            # SIGKILL: a batch may be committed with its answer lost; sent again, it must not double.
            self.server.stop(signal.SIGKILL)
            time.sleep(0.5)
            self.server.start()
            done.set()

        threading.Thread(target=restart, daemon=True).start()


class TrackingOnLocalStore(TrackingBehaviour, OnLocalStore, unittest.TestCase):
    def restart_server_in_background(self, reg: modelreg.Registry, done: threading.Event) -> None:
        server = reg._server
        assert server is not None and server.process is not None
        pid = server.process.pid
        os.kill(pid, signal.SIGKILL)  # the client notices and starts it again on the same port

        def watch() -> None:
            while server.process is None or server.process.pid == pid:
                time.sleep(0.05)
            done.set()

        threading.Thread(target=watch, daemon=True).start()


if __name__ == "__main__":
    unittest.main()
