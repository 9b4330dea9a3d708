#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine of the
# project's kind (apt for system packages, pip for Python ones). Skips what is
# already there, so it is quick on a machine that has it all.
set -euo pipefail

apt_packages=(cmake ninja-build g++ pkg-config libpcre2-dev libgtest-dev libgmock-dev doxygen valgrind
              clang libclang-rt-14-dev python3-pip
              cargo rustc rust-clippy bindgen librust-bindgen-dev librust-pkg-config-dev librust-thiserror-dev)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
fi

if [ -f "$(dirname "$0")/requirements-test.txt" ] && [ "${1:-}" = "--test" ]; then
  python3 -m pip install --quiet --disable-pip-version-check -r "$(dirname "$0")/requirements-test.txt" >&2
fi
