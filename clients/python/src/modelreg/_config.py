"""Client configuration, resolved as the CLI resolves it (src/config/config.ts).

Precedence, highest first: arguments to connect() > MODELREG_* environment > the nearest
``.modelreg.yaml`` from the working directory up > the selected profile > the user config
file ($XDG_CONFIG_HOME/modelreg/config.yaml) > defaults.

The files are read here without a YAML library: the keys modelreg uses are scalars in a
mapping, with profiles as a nested mapping (block or flow style, as ``modelreg config set``
writes them). A file using YAML this reader does not handle is handed to the CLI instead.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ._errors import RegistryError, invalid

CONFIG_KEYS = ("backend", "url", "token", "project", "home", "author")
ENV_VARS = {key: f"MODELREG_{key.upper()}" for key in CONFIG_KEYS}
PROJECT_FILE = ".modelreg.yaml"
CONFIG_FILE_LIMIT = 64 * 1024
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class UnsupportedYaml(Exception):
    """YAML beyond what this reader handles (the CLI reads it instead)."""


@dataclass
class ConfigFile:
    path: str
    values: Dict[str, str]
    profile: Optional[str]
    profiles: Dict[str, Dict[str, str]]


@dataclass
class Settings:
    backend: str
    url: Optional[str]
    token: Optional[str]
    project: str
    home: str
    author: Optional[str]
    profile: Optional[str]
    sources: Dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# A small YAML reader: mappings of scalars, nested by indentation or in {flow, style}.


def _strip_comment(line: str) -> str:
    """The line without a trailing comment (a # at the start or after a space, outside quotes)."""
    quote: Optional[str] = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if quote == '"' and c == "\\":
                i += 2
                continue
            if c == quote:
                if quote == "'" and line[i + 1 : i + 2] == "'":
                    i += 2
                    continue
                quote = None
        elif c in "\"'" and (i == 0 or line[i - 1] in " \t:{[,"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
        i += 1
    if quote:
        raise UnsupportedYaml("a quoted string runs past the end of its line")
    return line.rstrip()


def _scalar(text: str) -> Any:
    text = text.strip()
    if text == "" or text in ("~", "null", "Null", "NULL"):
        return None
    if text[0] == '"':
        try:
            value = json.loads(text)
        except ValueError as error:
            raise UnsupportedYaml(f"double-quoted string {text}") from error
        return value
    if text[0] == "'":
        if len(text) < 2 or text[-1] != "'":
            raise UnsupportedYaml(f"single-quoted string {text}")
        return text[1:-1].replace("''", "'")
    if text[0] in "&*!|>[%@`":
        raise UnsupportedYaml(f"value {text}")
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[-+]?([0-9]*\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?", text):
        return float(text)
    return text


def _flow_mapping(text: str, pos: int) -> Tuple[Dict[str, Any], int]:
    """Parse {key: value, ...} starting at text[pos] == '{'; returns the mapping and the end."""
    result: Dict[str, Any] = {}
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text):
            raise UnsupportedYaml("a flow mapping that spans lines")
        if text[pos] == "}":
            return result, pos + 1
        key, pos = _flow_token(text, pos, key=True)
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos >= len(text) or text[pos] != ":":
            raise UnsupportedYaml("a flow mapping entry without ':'")
        pos += 1
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == "{":
            value, pos = _flow_mapping(text, pos)
        else:
            value, pos = _flow_token(text, pos, key=False)
        if key in result:
            raise UnsupportedYaml(f"duplicate key {key}")
        result[str(key)] = value
        while pos < len(text) and text[pos] in " \t":
            pos += 1
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos < len(text) and text[pos] == "}":
            continue
        else:
            raise UnsupportedYaml("a flow mapping entry not followed by ',' or '}'")


def _flow_token(text: str, pos: int, key: bool) -> Tuple[Any, int]:
    if pos < len(text) and text[pos] in "\"'":
        q = text[pos]
        end = pos + 1
        while end < len(text):
            if q == '"' and text[end] == "\\":
                end += 2
                continue
            if text[end] == q:
                if q == "'" and text[end + 1 : end + 2] == "'":
                    end += 2
                    continue
                break
            end += 1
        return _scalar(text[pos : end + 1]), end + 1
    if pos < len(text) and text[pos] == "[":
        raise UnsupportedYaml("a flow sequence")
    end = pos
    while end < len(text):
        c = text[end]
        if c in ",}" or (c == ":" and (end + 1 >= len(text) or text[end + 1] in " \t,}")):
            break
        end += 1
    return _scalar(text[pos:end]), end


def parse_yaml(text: str) -> Any:
    """The document as Python data (mappings and scalars only)."""
    stripped = text.strip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            return json.loads(stripped)
        except ValueError:
            pass
    # (indent, mapping) stack; a key whose value is on the next lines waits as `pending`.
    root: Dict[str, Any] = {}
    stack: List[Tuple[int, Dict[str, Any]]] = [(-1, root)]
    pending: Optional[Tuple[int, Dict[str, Any], str]] = None
    scalar_document: Any = None
    for raw in text.splitlines():
        if raw.startswith("%"):
            raise UnsupportedYaml("a YAML directive")
        if raw.strip() in ("---", "..."):
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise UnsupportedYaml("tab indentation")
        line = _strip_comment(raw)
        if line.strip() == "":
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if body.startswith("- ") or body == "-":
            raise UnsupportedYaml("a block sequence")
        if pending is not None:
            p_indent, p_parent, p_key = pending
            pending = None
            if indent > p_indent:
                child: Dict[str, Any] = {}
                p_parent[p_key] = child
                stack.append((indent, child))
            else:
                p_parent[p_key] = None
        while stack and indent < stack[-1][0]:
            stack.pop()
        if not stack or indent != stack[-1][0] and stack[-1][0] != -1:
            raise UnsupportedYaml("inconsistent indentation")
        if stack[-1][0] == -1:
            stack[-1] = (indent, root)
        mapping = stack[-1][1]
        match = re.match(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"{\[][^:]*?)\s*:(?:\s+(.*))?$""", body)
        if not match:
            if len(stack) == 1 and not root:
                scalar_document = _scalar(body)
                continue
            raise UnsupportedYaml(f"line {body!r}")
        key = _scalar(match.group(1))
        rest = (match.group(2) or "").strip()
        if not isinstance(key, (str, int, float)):
            raise UnsupportedYaml(f"key {match.group(1)}")
        key = str(key)
        if key in mapping:
            raise UnsupportedYaml(f"duplicate key {key}")
        if rest == "":
            pending = (indent, mapping, key)
            mapping[key] = None
        elif rest.startswith("{"):
            value, end = _flow_mapping(rest, 0)
            if rest[end:].strip():
                raise UnsupportedYaml(f"text after a flow mapping: {rest[end:]}")
            mapping[key] = value
        else:
            mapping[key] = _scalar(rest)
    if pending is not None:
        pending[1][pending[2]] = None
    if not root and scalar_document is not None:
        return scalar_document
    return root


def _pick(raw: Mapping[str, Any], where: str) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for key in CONFIG_KEYS:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise invalid(f"{where}: {key} must be a string")
        values[key] = str(value)
    return values


def read_config_file(path: str) -> Optional[ConfigFile]:
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise invalid(f"config file {path}: {error.strerror}") from None
    if size > CONFIG_FILE_LIMIT:
        raise invalid(f"config file {path} is {size} bytes, more than the {CONFIG_FILE_LIMIT} a config file may hold")
    with open(path, "rb") as handle:
        text = handle.read().decode("utf-8", errors="strict")
    raw = parse_yaml(text)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise invalid(f"config file {path} must hold a YAML mapping")
    profiles: Dict[str, Dict[str, str]] = {}
    if raw.get("profiles") is not None:
        if not isinstance(raw["profiles"], dict):
            raise invalid(f"config file {path}: profiles must be a mapping of name to settings")
        for name, values in raw["profiles"].items():
            if not isinstance(values, dict):
                raise invalid(f'config file {path}: profile "{name}" must be a mapping')
            profiles[name] = _pick(values, f"{path} (profile {name})")
    profile = raw.get("profile")
    return ConfigFile(path, _pick(raw, path), None if profile is None else str(profile), profiles)


def user_config_path(env: Mapping[str, str]) -> str:
    if env.get("MODELREG_CONFIG"):
        return os.path.abspath(env["MODELREG_CONFIG"])
    base = env.get("XDG_CONFIG_HOME") or os.path.join(_home_dir(env), ".config")
    return os.path.join(base, "modelreg", "config.yaml")


def _home_dir(env: Mapping[str, str]) -> str:
    return env.get("HOME") or os.path.expanduser("~")


def _expand_home(path: str, env: Mapping[str, str]) -> str:
    if path == "~":
        return _home_dir(env)
    if path.startswith("~/"):
        return os.path.join(_home_dir(env), path[2:])
    return path


def find_project_file(cwd: str) -> Optional[str]:
    directory = os.path.abspath(cwd)
    while True:
        candidate = os.path.join(directory, PROJECT_FILE)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def resolve_settings(
    explicit: Mapping[str, Optional[str]],
    profile: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> Settings:
    """The effective settings, as the CLI would resolve them with the same flags."""
    env = os.environ if env is None else env
    user_path = user_config_path(env)
    user = read_config_file(user_path)
    project_path = find_project_file(cwd or os.getcwd())
    project_file = read_config_file(project_path) if project_path else None

    chosen: Optional[str] = None
    profile_source = "default"
    for value, source in (
        (profile, "flag"),
        (env.get("MODELREG_PROFILE"), "env"),
        (project_file.profile if project_file else None, "project-file"),
        (user.profile if user else None, "user-config"),
    ):
        if value:
            chosen, profile_source = value, source
            break
    profile_values: Dict[str, str] = {}
    if chosen is not None:
        found = (project_file.profiles.get(chosen) if project_file else None) or (user.profiles.get(chosen) if user else None)
        if found is None:
            known = sorted(set((user.profiles if user else {}).keys()) | set((project_file.profiles if project_file else {}).keys()))
            hint = f" (known: {', '.join(known)})" if known else ""
            raise invalid(f'profile "{chosen}" is not defined in {user_path}{hint}; add it under "profiles:"')
        profile_values = found

    layers: List[Tuple[Dict[str, str], str]] = [
        ({k: v for k, v in explicit.items() if v not in (None, "")}, "flag"),  # type: ignore[misc]
        ({k: env[ENV_VARS[k]] for k in CONFIG_KEYS if env.get(ENV_VARS[k])}, "env"),
        (project_file.values if project_file else {}, "project-file"),
        (profile_values, "profile"),
        (user.values if user else {}, "user-config"),
    ]
    sources: Dict[str, str] = {"profile": profile_source}

    def pick(key: str) -> Optional[str]:
        for values, source in layers:
            if values.get(key) is not None:
                sources[key] = source
                return values[key]
        sources[key] = "default"
        return None

    url = pick("url")
    token = pick("token")
    backend = pick("backend")
    if backend is not None and backend not in ("local", "remote"):
        raise invalid(f'backend must be "local" or "remote", not "{backend}" (from {sources["backend"]})')
    # A URL given where it takes precedence over the backend setting means that server (as the CLI reads it).
    rank = [source for _, source in layers].index
    if url and (backend is None or rank(sources["url"]) < rank(sources["backend"])):
        backend = "remote"
        sources["backend"] = sources["url"]
    elif backend is None:
        backend = "local"
    if backend == "remote" and not url:
        raise invalid('the remote backend needs a server URL: set MODELREG_URL, url=, or "url" in a profile')
    home = os.path.abspath(_expand_home(pick("home") or os.path.join(_home_dir(env), ".modelreg"), env))
    project = pick("project") or "default"
    if not NAME_RE.match(project):
        raise invalid(f'invalid project name "{project}": use 1-128 letters, digits, \'.\', \'_\' or \'-\', starting with a letter or digit')
    author = pick("author")
    return Settings(backend, url, token, project, home, author, chosen, sources)


def settings_from_cli(
    cli: List[str], explicit: Mapping[str, Optional[str]], profile: Optional[str], env: Mapping[str, str]
) -> Settings:
    """The same settings, asked of the CLI (for config files this reader cannot read)."""
    import subprocess

    child_env = dict(env)
    for key, given in explicit.items():
        if given:
            child_env[ENV_VARS[key]] = given
    if profile:
        child_env["MODELREG_PROFILE"] = profile

    def ask(args: List[str]) -> Any:
        done = subprocess.run(cli + args + ["--json"], env=child_env, capture_output=True, text=True, timeout=60)
        try:
            data = json.loads(done.stdout)
        except ValueError:
            raise RegistryError("internal", f"modelreg {' '.join(args)} gave no JSON: {done.stderr.strip()[:300]}") from None
        if done.returncode != 0:
            error = data.get("error", {}) if isinstance(data, dict) else {}
            raise RegistryError(str(error.get("code", "internal")), str(error.get("message", done.stderr.strip())))
        return data

    shown = ask(["config", "show"])["values"]
    token = ask(["config", "get", "token", "--reveal"])["value"]
    value: Dict[str, Any] = {k: shown[k]["value"] for k in shown}
    return Settings(
        backend=value["backend"],
        url=value["url"],
        token=token,
        project=value["project"],
        home=value["home"],
        author=value["author"],
        profile=value["profile"],
        sources={k: shown[k]["source"] for k in shown},
    )
