#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian 12 machine:
# installs packages, builds, and runs `octofleet demo` (an in-process Kafka
# mock cluster and Octopus simulator; no outside services).
#
#   scripts/demo.sh [--verbose] [--workers N]
#
# Arguments go to `octofleet demo` (once built, build/bin/octofleet demo --help describes
# them). Exit: octofleet demo's, 0 when the release completed; else the failing step's status.
set -euo pipefail
. "$(dirname "$0")/help.sh"
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${BUILD_DIR:-build}/bin/octofleet" demo "$@"
