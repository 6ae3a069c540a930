#!/usr/bin/env bash
# Makes sure cargo-fuzz and a nightly toolchain are available; prints the
# toolchain argument to use ("+nightly", or "" with RUSTC_BOOTSTRAP=1 set by
# the caller when no nightly can be installed).
set -euo pipefail
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz..." >&2
  cargo install cargo-fuzz --locked >&2
fi
if cargo +nightly --version >/dev/null 2>&1; then
  echo "+nightly"
elif rustup toolchain install nightly --profile minimal >&2; then
  echo "+nightly"
else
  echo "no nightly toolchain: building the fuzz targets with RUSTC_BOOTSTRAP=1" >&2
  echo ""
fi
