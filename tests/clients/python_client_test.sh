#!/bin/bash
# Runs python_client_test.py with Debian's python3, which has python3-prometheus-client
# (a python3 earlier in PATH, e.g. from pyenv, may not have it).
set -euo pipefail
PYTHON=/usr/bin/python3
if ! "$PYTHON" -c 'import prometheus_client' 2>/dev/null; then
  echo "FAIL: $PYTHON cannot import prometheus_client: install python3-prometheus-client (tools/setup)"
  echo "0 passed, 1 failed"
  exit 1
fi
exec "$PYTHON" "$TEST_SRCDIR/pushgate/tests/clients/python_client_test.py"
