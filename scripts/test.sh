#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs packages,
# builds, and runs every test with ctest (ctest's fixtures start and stop the
# real Kafka broker and the Octopus simulator the tests need).
#
#   scripts/test.sh [CTEST-ARGUMENTS...]
#   scripts/test.sh                 # normal build in build/
#   scripts/test.sh -L unit         # arguments go to ctest (ctest --help lists them)
#   OF_SANITIZE=ON BUILD_DIR=build-asan scripts/test.sh   # under ASan+UBSan
#
# CTEST_JOBS (default 4) tests run at once: the suite waits on timers, the broker and the
# simulator far more than it computes (the 2-core box was 14 % busy at -j2, 34 % at -j4), so
# twice as many tests as cores halves its time.
# Exit: 0 every test passed; else the failing step's status (ctest's is 8 when a test failed).
set -euo pipefail
. "$(dirname "$0")/help.sh"
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"${CTEST_JOBS:-4}" "$@"
