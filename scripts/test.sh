#!/usr/bin/env bash
# Runs the whole test suite. Installs what the tests need with apt-get when it
# is missing (redis-server for the Redis tiers and stores, Debian's chromium and
# chromium-driver for the dashboard's browser test, nodejs to run the
# context script state ships, prometheus for promtool, bsdutils for script),
# so it works on a fresh
# Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v node >/dev/null 2>&1 || need+=(nodejs)  # runs the shipped context script in a test
command -v script >/dev/null 2>&1 || need+=(bsdutils)  # a pseudo-terminal for the spinner test
command -v promtool >/dev/null 2>&1 || need+=(prometheus)  # checks the /metrics text
command -v openssl >/dev/null 2>&1 || need+=(openssl)  # certificates for the TLS-only redis-server
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo test --workspace --all-features "$@"
