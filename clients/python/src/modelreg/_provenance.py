"""Who acts and where from, recorded with pushes and runs as the CLI records them
(src/registry/provenance.ts): the author, the host, the git commit when run inside a work
tree, and the CI job when the environment shows one."""
from __future__ import annotations

import getpass
import os
import socket
import subprocess
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit


def _git(args: List[str], cwd: Optional[str] = None) -> Optional[str]:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def resolve_author(configured: Optional[str]) -> str:
    """MODELREG_AUTHOR or the configured author, else git user.email, else the OS user."""
    if configured:
        return configured
    email = _git(["config", "--get", "user.email"])
    if email:
        return email
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name at all
        return "unknown"


def scrub_remote(url: str) -> str:
    """A remote URL without credentials (https://user:token@host/x keeps only host and path)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def git_source(cwd: Optional[str] = None) -> Optional[Dict[str, Any]]:
    commit = _git(["rev-parse", "--verify", "--quiet", "HEAD"], cwd)
    if not commit:
        return None
    branch = _git(["symbolic-ref", "--quiet", "--short", "HEAD"], cwd)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    remote = _git(["config", "--get", "remote.origin.url"], cwd)
    return {"commit": commit, "branch": branch or None, "dirty": bool(status), "remote": scrub_remote(remote) if remote else None}


def ci_source(env: Mapping[str, str]) -> Optional[Dict[str, Any]]:
    def v(name: str) -> Optional[str]:
        value = env.get(name)
        return value if value else None

    if v("GITHUB_ACTIONS"):
        server = v("GITHUB_SERVER_URL") or "https://github.com"
        repo, run = v("GITHUB_REPOSITORY"), v("GITHUB_RUN_ID")
        return {"provider": "github-actions", "job": v("GITHUB_JOB") or v("GITHUB_WORKFLOW"), "run_id": run, "url": f"{server}/{repo}/actions/runs/{run}" if repo and run else None}
    if v("GITLAB_CI"):
        return {"provider": "gitlab-ci", "job": v("CI_JOB_NAME"), "run_id": v("CI_JOB_ID"), "url": v("CI_JOB_URL")}
    if v("BUILDKITE"):
        return {"provider": "buildkite", "job": v("BUILDKITE_LABEL"), "run_id": v("BUILDKITE_BUILD_NUMBER"), "url": v("BUILDKITE_BUILD_URL")}
    if v("CIRCLECI"):
        return {"provider": "circleci", "job": v("CIRCLE_JOB"), "run_id": v("CIRCLE_BUILD_NUM"), "url": v("CIRCLE_BUILD_URL")}
    if v("JENKINS_URL"):
        return {"provider": "jenkins", "job": v("JOB_NAME"), "run_id": v("BUILD_NUMBER"), "url": v("BUILD_URL")}
    if v("TF_BUILD"):
        return {"provider": "azure-pipelines", "job": v("SYSTEM_JOBDISPLAYNAME") or v("AGENT_JOBNAME"), "run_id": v("BUILD_BUILDID"), "url": None}
    if v("BITBUCKET_BUILD_NUMBER"):
        return {"provider": "bitbucket-pipelines", "job": v("BITBUCKET_STEP_UUID"), "run_id": v("BITBUCKET_BUILD_NUMBER"), "url": None}
    if v("TRAVIS"):
        return {"provider": "travis-ci", "job": v("TRAVIS_JOB_NAME"), "run_id": v("TRAVIS_JOB_ID"), "url": v("TRAVIS_JOB_WEB_URL")}
    ci = v("CI")
    if ci and ci not in ("false", "0"):
        return {"provider": "unknown", "job": None, "run_id": None, "url": None}
    return None


def collect_source(env: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    try:
        host: Optional[str] = socket.gethostname()
    except OSError:
        host = None
    return {"host": host, "git": git_source(), "ci": ci_source(os.environ if env is None else env)}
