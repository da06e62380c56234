"""Configuration as the CLI reads it (environment, profiles, .modelreg.yaml, the user config,
arguments), the same answers as `modelreg config show`, and clear errors when there is no
CLI to serve the local store."""
from __future__ import annotations

import json
import os
import subprocess
import unittest

import modelreg
from modelreg import RegistryError
from modelreg._config import parse_yaml, resolve_settings
from support import OnTeamServer, ROOT, cli, environment, temp_dir, unique


def config_path() -> str:
    return os.path.join(os.environ["XDG_CONFIG_HOME"], "modelreg", "config.yaml")


def modelreg_cli(*args: str, cwd: str = ".") -> subprocess.CompletedProcess:  # type: ignore[type-arg]
    return subprocess.run(cli() + list(args), capture_output=True, text=True, cwd=cwd, check=True)


class ConfigTests(OnTeamServer, unittest.TestCase):
    def setUp(self) -> None:
        path = config_path()
        if os.path.exists(path):
            os.unlink(path)

    def test_environment_names_the_server(self) -> None:
        project = unique("env")
        with environment(MODELREG_URL=self.server.url, MODELREG_TOKEN=self.server.admin_token, MODELREG_PROJECT=project):
            with modelreg.connect() as reg:
                self.assertEqual((reg.url, reg.project, reg.home), (self.server.url, project, None))
                reg.create_model("from-env")
            # Arguments win over the environment.
            with modelreg.connect(project="other-" + project) as reg:
                self.assertEqual(reg.project, "other-" + project)
                self.assertEqual(reg.models(), [])

    def test_profiles_written_by_the_cli(self) -> None:
        project = unique("team")
        modelreg_cli("config", "init")
        modelreg_cli("config", "set", "profiles.team.url", self.server.url)
        modelreg_cli("config", "set", "profiles.team.token", self.server.admin_token)
        modelreg_cli("config", "set", "profiles.team.backend", "remote")
        modelreg_cli("config", "set", "profiles.team.project", project)
        with modelreg.connect(profile="team") as reg:
            self.assertEqual((reg.url, reg.project), (self.server.url, project))
            reg.create_model("via-profile")
        with environment(MODELREG_PROFILE="team"):
            with modelreg.connect() as reg:
                self.assertEqual([m.name for m in reg.models()], ["via-profile"])
        with self.assertRaises(RegistryError) as unknown:
            modelreg.connect(profile="nope")
        self.assertEqual(unknown.exception.code, "invalid_argument")
        self.assertIn('profile "nope" is not defined', str(unknown.exception))

    def test_the_same_answers_as_config_show(self) -> None:
        work = temp_dir(self)
        nested = os.path.join(work, "repo", "src")
        os.makedirs(nested)
        with open(os.path.join(work, "repo", ".modelreg.yaml"), "w") as handle:
            handle.write("# this directory's settings\nproject: 'fraud'   # quoted\nprofile: team\n")
        os.makedirs(os.path.dirname(config_path()), exist_ok=True)
        with open(config_path(), "w") as handle:
            handle.write(
                "backend: local\nhome: ~/stores/main\nauthor: \"a: b # c\"\n"
                "profiles:\n  team:\n    url: http://registry.internal:8470   # the team server\n"
                "    backend: remote\n    token: mr_secret\n  other: {project: x, url: 'http://o:1'}\n"
            )
        for env in ({}, {"MODELREG_PROJECT": "churn"}, {"MODELREG_PROFILE": "other", "MODELREG_HOME": "/tmp/h"}):
            with self.subTest(env=env), environment(**env):
                shown = json.loads(modelreg_cli("config", "show", "--json", cwd=nested).stdout)["values"]
                token = json.loads(modelreg_cli("config", "get", "token", "--reveal", "--json", cwd=nested).stdout)["value"]
                ours = resolve_settings({}, cwd=nested)
                self.assertEqual(
                    {k: getattr(ours, k) for k in ("backend", "url", "token", "project", "home", "author", "profile")},
                    {**{k: shown[k]["value"] for k in ("backend", "url", "project", "home", "author", "profile")}, "token": token},
                )
                self.assertEqual({k: ours.sources[k] for k in shown}, {k: shown[k]["source"] for k in shown})

    def test_yaml_this_reader_cannot_read_goes_to_the_cli(self) -> None:
        project = unique("cli")
        os.makedirs(os.path.dirname(config_path()), exist_ok=True)
        with open(config_path(), "w") as handle:
            handle.write(f"notes:\n  - a list this reader does not handle\nurl: {self.server.url}\ntoken: {self.server.admin_token}\nproject: {project}\n")
        with modelreg.connect() as reg:
            self.assertEqual((reg.url, reg.project), (self.server.url, project))
            reg.models()

    def test_reader(self) -> None:
        self.assertEqual(parse_yaml('{"project": "p", "profiles": {"a": {"url": "u"}}}'), {"project": "p", "profiles": {"a": {"url": "u"}}})
        self.assertEqual(parse_yaml("profiles: { team: { url: http://x:1, token: 'it''s' } }\n"), {"profiles": {"team": {"url": "http://x:1", "token": "it's"}}})
        self.assertEqual(parse_yaml("---\na:\n\n  b: \"q\\\"x\"  # c\nc: ~\n"), {"a": {"b": 'q"x'}, "c": None})


class NoCliTests(unittest.TestCase):
    def test_no_cli_and_no_url_is_one_clear_error(self) -> None:
        base = temp_dir(self)
        with environment(MODELREG_CLI=None, PATH="/usr/bin:/bin", MODELREG_URL=None, MODELREG_PROFILE=None, MODELREG_CONFIG=None, XDG_CONFIG_HOME=os.path.join(base, "xdg"), MODELREG_HOME=os.path.join(base, "store")):
            with self.assertRaises(RegistryError) as missing:
                modelreg.connect()
            self.assertEqual(missing.exception.code, "unavailable")
            self.assertIn("the modelreg CLI that serves the local store was not found", str(missing.exception))
            self.assertIn("MODELREG_CLI", str(missing.exception))
        with environment(MODELREG_CLI=os.path.join(base, "nothing-here.js"), MODELREG_URL=None, MODELREG_PROFILE=None, XDG_CONFIG_HOME=os.path.join(base, "xdg"), MODELREG_HOME=os.path.join(base, "store")):
            with self.assertRaises(RegistryError) as wrong:
                modelreg.connect()
            self.assertEqual(wrong.exception.code, "unavailable")
            self.assertIn("MODELREG_CLI names", str(wrong.exception))

    def test_modelreg_on_path(self) -> None:
        base = temp_dir(self)
        bin_dir = os.path.join(base, "bin")
        os.makedirs(bin_dir)
        os.symlink(os.path.join(ROOT, "bin", "run.js"), os.path.join(bin_dir, "modelreg"))
        with environment(MODELREG_CLI=None, PATH=f"{bin_dir}:{os.environ['PATH']}", MODELREG_URL=None, MODELREG_PROFILE=None, MODELREG_CONFIG=None, XDG_CONFIG_HOME=os.path.join(base, "xdg"), MODELREG_HOME=os.path.join(base, "store")):
            with modelreg.connect() as reg:
                self.assertEqual(reg.home, os.path.join(base, "store"))
                reg.create_model("on-path")
        self.assertTrue(os.path.exists(os.path.join(base, "store", "registry.db")))


if __name__ == "__main__":
    unittest.main()
