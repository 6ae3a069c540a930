#!/usr/bin/env bash
# Installs the real rkat-rpc 0.5.2 (from the published meerkat-rpc crate) into
# a cache directory outside the clone, when it is not there yet, and prints
# the binary's path on stdout. Everything else goes to stderr.
#
#   MEERKAT_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs)
#
# The published 0.5.0 crates no longer build together (cargo install fails in
# meerkat-runtime), so 0.5.2 is the real peer; 0.5.0 is known from fixtures.
set -euo pipefail
version=0.5.2
cache="${MEERKAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs}"
root="$cache/rkat-rpc-$version"
bin="$root/bin/rkat-rpc"
if [ ! -x "$bin" ]; then
  echo "rkat-rpc $version not found in $root: installing it from crates.io (about 6-10 minutes)..." >&2
  mkdir -p "$root"
  start=$(date +%s)
  # --debug: a release build takes far longer and speed of the server is not
  # what we measure. --locked: the versions the release was published with.
  cargo install meerkat-rpc --version "=$version" --locked --debug --root "$root" >&2
  echo "installed rkat-rpc $version in $(( $(date +%s) - start ))s" >&2
fi
"$bin" --version >&2 || true
echo "$bin"
