#!/usr/bin/env bash
# Runs hit_path.py in a venv holding requirements.txt, passing its arguments
# through (e.g. `./run.sh --json`).
#
# The venv lives outside the repo, in ${TMPDIR:-/tmp}/streamlit-bench-venv, and
# is created on first use with ${PYTHON:-python3}. Every run re-applies
# requirements.txt: once the pins are installed that is a quick local check, and
# a changed pin is picked up without deleting the venv by hand.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${TMPDIR:-/tmp}/streamlit-bench-venv"

# Test for the interpreter, not the directory, so that a venv left half-made
# by an interrupted run is made again.
if [[ ! -x "$venv/bin/python" ]]; then
    echo "creating $venv" >&2
    "${PYTHON:-python3}" -m venv --clear "$venv"
fi

# pip's output goes to stderr so that stdout stays the script's alone, which
# `--json` relies on.
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" >&2

exec "$venv/bin/python" "$here/hit_path.py" "$@"
