#!/usr/bin/env bash
# Make (once) the cached venv of one set of test-only packages, tests/venvs/NAME.txt, and
# print its path. The key is the file's content, so a changed pin makes a new venv; the
# venv lives outside the clone, under ~/.cache/spanline-tests/. A lock lets two test
# workers ask at once. The suite runs spanline there from the checkout (PYTHONPATH).
set -euo pipefail
name="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
requirements="${root}/tests/venvs/${name}.txt"
key="$(sha256sum "${requirements}" | cut -c1-12)"
venv="${HOME}/.cache/spanline-tests/${name}-${key}"
if [ ! -e "${venv}/.complete" ]; then
  mkdir -p "$(dirname "${venv}")"
  exec 9>"${venv}.lock"
  flock 9
  if [ ! -e "${venv}/.complete" ]; then
    rm -rf "${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/python" -m pip install -q --disable-pip-version-check \
      -r "${requirements}" >&2
    touch "${venv}/.complete"  # only a finished install counts
  fi
fi
echo "${venv}"
