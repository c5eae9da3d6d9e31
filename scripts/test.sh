#!/usr/bin/env bash
# Install (as scripts/install.sh) and run the test suite. Extra arguments go to pytest (e.g. --slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m pytest "$@"
