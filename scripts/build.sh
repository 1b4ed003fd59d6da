#!/usr/bin/env bash
# Configures and builds octofleet. Binaries land in $BUILD_DIR/bin (default build/bin).
#   scripts/build.sh
#   BUILD_DIR=build-asan OF_SANITIZE=ON scripts/build.sh
# OF_WERROR=OFF builds without -Werror. CMake's output goes to stderr.
# Exit: 0 built; else cmake's status.
set -euo pipefail
. "$(dirname "$0")/help.sh"
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DOF_WERROR="${OF_WERROR:-ON}" -DOF_SANITIZE="${OF_SANITIZE:-OFF}" >&2
cmake --build "$BUILD_DIR" -j"$(nproc)" >&2
