#!/usr/bin/env bash
# The main job on the embedded default, from a fresh Debian 12 machine:
# installs packages, builds, and runs `octofleet demo` (an in-process Kafka
# mock cluster and Octopus simulator; no outside services).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec "${BUILD_DIR:-build}/bin/octofleet" demo "$@"
