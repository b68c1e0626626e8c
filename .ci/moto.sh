#!/usr/bin/env bash
# Sourced by .ci/run before the tests: installs moto's server (a real DynamoDB API on
# loopback) in a virtualenv of its own and exports MOTO_SERVER, the path that the fleet's
# lease tests start it from (each test starts its own on a free port). Where it cannot be
# installed, the tests that need it say so and skip.
MOTO_VENV="${MOTO_VENV:-target/moto-venv}"
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  python3 -m venv "$MOTO_VENV" \
    && "$MOTO_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]>=5,<6" \
    || echo "moto could not be installed: the DynamoDB lease tests will skip"
fi
if [ -x "$MOTO_VENV/bin/moto_server" ]; then
  MOTO_SERVER="$(cd "$MOTO_VENV/bin" && pwd)/moto_server"
  export MOTO_SERVER
fi
