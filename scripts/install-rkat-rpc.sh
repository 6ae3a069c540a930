#!/usr/bin/env bash
# Installs a real rkat-rpc (from the published meerkat-rpc crate) into a
# cache directory outside the clone, when it is not there yet, and prints the
# binary's path on stdout. Everything else goes to stderr.
#
#   scripts/install-rkat-rpc.sh [VERSION]     VERSION: 0.5.2 (default) or 0.9.8
#   scripts/install-rkat-rpc.sh --installed [VERSION]
#                       never installs: prints the path when the binary is in
#                       the cache, else exits 1 with nothing on stdout
#   MEERKAT_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs)
#
# The published 0.5.0 crates no longer build together (cargo install fails in
# meerkat-runtime), so 0.5.2 is the real 0.5 peer; 0.5.0 is known from
# fixtures. 0.9.8 is built without debuginfo and with only the `comms,mob`
# features (mobs, comms and skills; no schedule, workgraph, mcp): 50 minutes
# cold on 2 cores instead of 68 for the default build, and a 480 MB binary
# instead of 2.3 GB. Its target dir lives in the cache too, so a build cut
# off by a timeout resumes where it stopped.
set -euo pipefail
only_installed=false
if [ "${1:-}" = "--installed" ]; then only_installed=true; shift; fi
version="${1:-0.5.2}"
cache="${MEERKAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs}"
root="$cache/rkat-rpc-$version"
bin="$root/bin/rkat-rpc"
case "$version" in
  0.5.2) minutes="4-10"; args=() ;;
  0.9.8) minutes="50-130"; args=(--no-default-features --features comms,mob)
         export CARGO_PROFILE_DEV_DEBUG=0 CARGO_TARGET_DIR="$cache/target-$version" ;;
  *) echo "error: rkat-rpc $version is not a version this project tests (0.5.2, 0.9.8)" >&2; exit 2 ;;
esac
if [ ! -x "$bin" ] && $only_installed; then
  echo "rkat-rpc $version is not installed in $root" >&2
  exit 1
fi
if [ ! -x "$bin" ]; then
  echo "rkat-rpc $version not found in $root: installing it from crates.io (about $minutes minutes)..." >&2
  mkdir -p "$root"
  start=$(date +%s)
  # --debug: a release build takes far longer and speed of the server is not
  # what we measure. --locked: the versions the release was published with.
  cargo install meerkat-rpc --version "=$version" --locked --debug "${args[@]}" --root "$root" >&2
  echo "installed rkat-rpc $version in $(( $(date +%s) - start ))s" >&2
fi
"$bin" --version >&2 || true
echo "$bin"
