#!/usr/bin/env bash
# The Python client's test environment: a venv at .venv-python/ made with Debian's python3
# (not a pyenv one), with the client installed from clients/python without reaching PyPI.
# Idempotent: quick when the venv exists and the client's sources have not changed since the
# last install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
VENV=.venv-python
STAMP="$VENV/.modelreg-client-sources"

if [ ! -x "$PY" ]; then
  echo "python-env: $PY is missing; install Debian's python3 (apt-get install -y python3)" >&2
  exit 1
fi

# venv and wheel come from Debian's packages: PyPI cannot be reached from these machines, and
# without wheel `pip install` fails with "invalid command 'bdist_wheel'".
need=()
"$PY" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
"$PY" -c 'import wheel' 2>/dev/null || need+=(python3-wheel)
"$PY" -c 'import setuptools' 2>/dev/null || need+=(python3-setuptools)
if [ ${#need[@]} -gt 0 ]; then
  echo "python-env: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "python-env: creating $VENV" >&2
  "$PY" -m venv --system-site-packages "$VENV"
fi

# What the installed client was built from: every source file but the tests and build output.
sources=$(find clients/python -type f \
  -not -path 'clients/python/tests/*' -not -path '*/build/*' -not -path '*.egg-info/*' -not -path '*/__pycache__/*' \
  -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$sources" ]; then
  exit 0
fi
echo "python-env: installing clients/python into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --no-build-isolation --no-index --disable-pip-version-check --force-reinstall --no-deps ./clients/python
rm -rf clients/python/build
echo "$sources" > "$STAMP"
