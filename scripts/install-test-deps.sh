#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, skipping
# whatever is already present. Each component's section is independent.
set -euo pipefail

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }

command -v cargo >/dev/null 2>&1 || {
  echo "error: cargo is missing. Install Rust (stable, 1.80 or newer) with rustup: https://rustup.rs" >&2
  exit 2
}
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# Components used by the tests (added by each capability's tests).
# want <command> <debian package>

if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
