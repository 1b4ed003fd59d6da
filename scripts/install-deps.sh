#!/usr/bin/env bash
# Installs the Debian 12 packages octofleet needs to build, test and run.
# Idempotent: does nothing when everything is present. Works as root, uses sudo otherwise.
#
#   scripts/install-deps.sh
#
# Exit: 0 everything is installed; else apt-get's status.
set -euo pipefail
. "$(dirname "$0")/help.sh"

PKGS=(
  build-essential cmake pkg-config
  librdkafka-dev libcurl4-openssl-dev libjansson-dev libconfig-dev libmicrohttpd-dev uuid-dev
  libssl-dev   # libcrypto: HMAC-SHA256 message authentication (common/guard/guard.c)
  clang-format openssl ca-certificates curl python3
  openjdk-17-jre-headless maven   # only to run the real Kafka broker for the tests
  # the install test (tests/install): systemd-analyze verify and systemd-sysusers, file for
  # cpack's dpkg-shlibdeps, groff to render the man pages, python3-venv for the manifests'
  # validator (kubernetes-validate from PyPI)
  systemd file groff-base python3-venv
  # promtool, for the tests of the alert rules and the dashboard (tests/prometheus) and of the
  # daemons' /metrics; Debian ships it in the prometheus package (which also brings the server:
  # on a host running systemd its postinst starts it on :9090; `systemctl disable --now
  # prometheus` if unwanted)
  prometheus
  tzdata   # IANA time zones for policy.windows (common/base/tz.c reads /usr/share/zoneinfo)
  tmux   # system_watch runs `octofleet watch` in a real terminal (tmux capture-pane)
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Java and Maven may come from elsewhere (SDKMAN, a JDK tarball): accept them if on PATH.
if command -v java >/dev/null && command -v mvn >/dev/null; then
  missing=("${missing[@]/openjdk-17-jre-headless/}")
  missing=("${missing[@]/maven/}")
fi
read -r -a missing <<<"${missing[*]}"
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
