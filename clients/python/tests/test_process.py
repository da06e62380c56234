"""The client as a script lives it: points buffered at exit are sent, the private server stops
with the script (also when the script is killed), and examples/train.py runs as is, twice,
on the local store and against a team server."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import unittest

import modelreg
from support import OnTeamServer, ROOT, environment, isolated_env, pid_alive, run_python, temp_dir, unique, wait_gone

EXAMPLE = os.path.join(ROOT, "examples", "train.py")


class ScriptLifetime(unittest.TestCase):
    def setUp(self) -> None:
        base = temp_dir(self)
        self.env = isolated_env(base)
        self._environment = environment(**self.env)
        self._environment.__enter__()
        self.addCleanup(self._environment.__exit__, None, None, None)

    def test_points_are_sent_at_exit_and_the_private_server_stops(self) -> None:
        done = run_python(
            "import json, modelreg\n"
            "reg = modelreg.connect(project='exit')\n"
            "run = reg.start_run('e', name='no-finish')\n"
            "for i in range(5000): run.log({'loss': 1 / (i + 1)})\n"
            "print(json.dumps({'run': run.id, 'server': reg._server.process.pid}))\n"
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        report = json.loads(done.stdout)
        self.assertTrue(wait_gone(report["server"]), "the private server outlived the script")
        with modelreg.connect(project="exit") as reg:
            run = reg.run(report["run"])
            self.assertEqual(run.status, "running")  # nobody finished it; its points are all there
            self.assertEqual([p["step"] for p in run.metrics()], list(range(5000)))

    def test_the_private_server_stops_when_the_script_is_killed(self) -> None:
        script = subprocess.Popen(
            [sys.executable, "-c", "import modelreg, sys, time\nreg = modelreg.connect()\nprint(reg._server.process.pid, flush=True)\ntime.sleep(600)\n"],
            stdout=subprocess.PIPE, text=True,
        )
        assert script.stdout is not None
        pid = int(script.stdout.readline())
        self.assertTrue(pid_alive(pid))
        script.send_signal(signal.SIGKILL)  # no exit handlers run
        script.wait()
        script.stdout.close()
        self.assertTrue(wait_gone(pid), "the private server outlived a killed script")

    def test_a_registry_is_a_context_manager(self) -> None:
        with modelreg.connect() as reg:
            server = reg._server
            assert server is not None and server.process is not None
            pid = server.process.pid
            with modelreg.connect() as again:  # one private server per store and process
                self.assertIs(again._server, server)
            self.assertTrue(pid_alive(pid))
        self.assertTrue(wait_gone(pid))


class ExampleScript(OnTeamServer, unittest.TestCase):
    def run_example(self, **env: str) -> dict:  # type: ignore[type-arg]
        done = subprocess.run([sys.executable, EXAMPLE], capture_output=True, text=True, timeout=300, cwd=temp_dir(self), env={**os.environ, **env})
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    def test_train_example_on_the_local_store_twice(self) -> None:
        first = self.run_example()
        second = self.run_example()  # run names are not unique: a re-run makes new runs
        self.assertEqual((first["model"], first["version"], second["version"]), ("mnist-cnn", 1, 2))
        self.assertIn("champion", second["tags"])
        with modelreg.connect(project="mnist") as reg:
            self.assertEqual(len(reg.runs(experiment="mnist-cnn")), 4)
            self.assertEqual(reg.model("mnist-cnn").version("champion").version, 2)

    def test_train_example_against_a_team_server(self) -> None:
        project = unique("train")
        result = self.run_example(MODELREG_URL=self.server.url, MODELREG_TOKEN=self.server.admin_token, EXAMPLE_PROJECT=project)
        self.assertEqual(result["version"], 1)
        with modelreg.connect(url=self.server.url, token=self.server.admin_token, project=project) as reg:
            self.assertEqual(reg.model("mnist-cnn").version("champion").lineage["run"]["id"], result["best"])


if __name__ == "__main__":
    unittest.main()
