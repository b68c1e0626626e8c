#!/usr/bin/env bash
# The Python package kvs_consumer (crates/python): build it the way users install it
# (pip, PEP 517, maturin), build the `kvs` binary its tests serve streams from, and run
# its pytest suite. Needs only Rust, CPython >= 3.9 with venv, and PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${KVS_VENV:-target/python-venv}"

if [ -z "${KVS_SAMPLES:-}" ] && [ -d ../shared/kvs-samples ]; then
  KVS_SAMPLES="$(cd ../shared/kvs-samples && pwd)"
  export KVS_SAMPLES
fi

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
VENV_BIN="$(cd "$VENV" && pwd)/bin"
VENV_PYTHON="$VENV_BIN/python"
# maturin's PEP 517 backend runs the `maturin` executable of the venv.
export PATH="$VENV_BIN:$PATH"
"$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check \
  "maturin>=1.9.4,<2" numpy boto3 pytest

# The local KVS server (`kvs serve`) that the boto3 tests talk to, built as the workspace's
# tests build it (same features): after `cargo test --workspace` this compiles nothing.
cargo test --locked --workspace --no-run
export KVS_BIN="$PWD/target/debug/kvs"

# Build and install the package from source. The dev profile shares the workspace's
# debug artifacts and keeps CI fast; users get the release build by default.
MATURIN_PEP517_ARGS="--profile dev --locked" \
  "$VENV_PYTHON" -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./crates/python

# Run where crates/python/python is not on sys.path, so that the installed package is
# what gets imported. A run that collects no test exits with 5, which fails this script.
cd crates/python/tests
"$VENV_PYTHON" -m pytest -q -p no:cacheprovider .
if [ -n "${KVS_SAMPLES:-}" ]; then
  # A short run: checks that the benchmark works (numbers from a dev build mean little).
  "$VENV_PYTHON" ../bench/benchmark.py --quick --seconds 0.1
fi
