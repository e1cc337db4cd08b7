#!/usr/bin/env bash
# Install everything the tests need (system packages via apt-get when missing),
# then run the linters and the whole test suite. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages the suite needs, as "command:debian-package".
missing=()
for pair in git:git jq:jq chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# A real OTLP receiver for tests/otel: Arize Phoenix, pinned, in its own venv (its
# dependency tree is large and must not mix with ours), cached outside the clone.
# Keep the version in step with tests/otel/conftest.py.
PHOENIX_VERSION=20.26.1
phoenix="${HOME}/.cache/spanline-tests/phoenix-${PHOENIX_VERSION}"
if [ ! -e "${phoenix}/.complete" ]; then
  rm -rf "${phoenix}"
  mkdir -p "$(dirname "${phoenix}")"
  python3 -m venv "${phoenix}"
  "${phoenix}/bin/python" -m pip install -q --disable-pip-version-check \
    "arize-phoenix==${PHOENIX_VERSION}"
  touch "${phoenix}/.complete"  # only a finished install counts
fi

# The agent frameworks' venvs (tests/frameworks), made here so that no test waits on
# an install; each set is keyed by its requirements file (scripts/test-venv.sh).
for set in agents crewai; do
  bash scripts/test-venv.sh "${set}" >/dev/null
done

.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache
.venv/bin/mypy

set +e
# Two workers: most tests wait on child processes, sockets or a browser, so two
# share this 2-core machine well (docs/contributing.md).
.venv/bin/python -m pytest -n 2 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests (exit 5): the test setup is broken" >&2
  exit 1
fi
exit "$status"
