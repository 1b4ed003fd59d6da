#!/usr/bin/env bash
# Runs one of the fuzz targets under clang's libFuzzer with AddressSanitizer and
# UndefinedBehaviorSanitizer (docs/testing.md, "Fuzzing with libFuzzer"). Not part of CI:
# ctest runs the same targets with fixed-seed mutations (fuzz_codec, fuzz_octopus,
# fuzz_config).
#
#   scripts/fuzz.sh codec|octopus|config [SECONDS] [WORKDIR]
#
# SECONDS defaults to 600, WORKDIR to build-fuzz. Needs clang (apt-get install clang) and a
# normal build (scripts/build.sh): its test binaries write the seeds. A finding is written to
# WORKDIR/artifacts/ and the run stops; add the input to the target's regression seeds
# (smoke_codec.c's add_found_seeds, fuzz_octopus.c's add_regressions, smoke_config.c) with
# the fix.
# Exit: 0 nothing found in the time given, 77 a finding (libFuzzer's -error_exitcode),
# 2 bad usage, no clang or no build; anything else is the compiler's or libFuzzer's.
set -euo pipefail
. "$(dirname "$0")/help.sh"
cd "$(dirname "$0")/.."
target=${1:-}
secs=${2:-600}
work=${3:-build-fuzz}
case "$target" in
codec | octopus | config) ;;
*)
    echo "usage: scripts/fuzz.sh codec|octopus|config [SECONDS] [WORKDIR]" >&2
    exit 2
    ;;
esac
command -v clang > /dev/null || {
    echo "fuzz.sh: clang not found; apt-get install clang" >&2
    exit 2
}
mkdir -p "$work/corpus-$target" "$work/seeds-$target" "$work/artifacts"
src=$PWD
flags=(-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer -g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
    -DOF_FUZZ_LIBFUZZER -DOF_VERSION=\"fuzz\"
    -I"$src/common/base" -I"$src/common/json" -I"$src/common/codec" -I"$src/common/octopus"
    -I"$src/common/config" -I"$src/common/kafka"
    -I"$src/tests/unit" -I"$src/tests/fuzz")
pkgs=(jansson libcurl uuid)
[ "$target" = config ] && pkgs+=(libconfig rdkafka)
read -r -a pc_cflags <<< "$(pkg-config --cflags "${pkgs[@]}")"
read -r -a pc_libs <<< "$(pkg-config --libs "${pkgs[@]}")"
# The seeds are the ctest targets' own: request fixtures and one encoded message of each
# kind (codec), the built-in Octopus replies (octopus), the example config and the config
# fixtures (config), and the regressions found before.
if [ "$target" = codec ]; then
    sources=("$src"/tests/fuzz/fuzz_codec.c "$src"/common/codec/*.c)
    bin=${BUILD_DIR:-build}/bin/test_fuzz_codec
    seed_args=(--mutations 0 --write-seeds "$work/seeds-codec")
elif [ "$target" = config ]; then
    # the loader checks kafka.properties against librdkafka and octopus.url's form
    sources=("$src"/tests/fuzz/fuzz_config.c "$src"/common/config/*.c "$src"/common/kafka/*.c
        "$src"/common/octopus/*.c)
    bin=${BUILD_DIR:-build}/bin/test_fuzz_config
    seed_args=(--mutations 0 --write-seeds "$work/seeds-config")
else
    sources=("$src"/tests/fuzz/fuzz_octopus.c "$src"/common/octopus/*.c)
    bin=${BUILD_DIR:-build}/bin/test_fuzz_octopus
    seed_args=(--iterations 0 --write-seeds "$work/seeds-octopus")
fi
[ -x "$bin" ] || {
    echo "fuzz.sh: $bin not found; run scripts/build.sh first (it writes the seeds)" >&2
    exit 2
}
"$bin" "${seed_args[@]}" > /dev/null
clang "${flags[@]}" "${pc_cflags[@]}" -o "$work/fuzz_$target" "${sources[@]}" \
    "$src"/common/json/*.c "$src"/common/base/*.c "${pc_libs[@]}" -lpthread -lm
echo "fuzz.sh: $target for ${secs} s; corpus $work/corpus-$target" >&2
exec "$work/fuzz_$target" -max_total_time="$secs" -rss_limit_mb=4096 -timeout=10 \
    -artifact_prefix="$work/artifacts/$target-" "$work/corpus-$target" "$work/seeds-$target"
