#!/usr/bin/env bash
# The whole test suite, from a fresh clone, with all its own set-up.
# This is the README's test command and what .ci/run calls.
#
# Steps: install the real rkat-rpc 0.5.2 into the cache when missing;
# formatting; clippy with warnings as errors; docs with warnings as errors
# (as docs.rs builds them); the purity checks (no tokio under meerkat-proto
# or meerkat-transport-blocking); the three library crates packaged and
# built from their tarballs; the fuzz targets build; the reliability table
# in its short form (scripts/attack.sh --short: every misbehaving-server
# attack against both transports; fails when a row does not hold); the
# real-server scenarios (`real_*`) against rkat-rpc 0.9.8 when that line
# is run (below); then every test of the workspace against 0.5.2, last, so the output ends
# with cargo test's summary lines.
#
# Server lines of the end-to-end suites:
#   MEERKAT_RPC_VERSIONS unset   0.5.2 (installed when missing), plus 0.9.8
#                                when it is already in the cache: a cold
#                                0.9.8 build takes 50-130 minutes on 2 cores,
#                                more than the CI budget, so it is never
#                                installed by default.
#   MEERKAT_RPC_VERSIONS=0.5.2,0.9.8
#                                exactly the lines listed, each installed
#                                when missing. 0.5.2 is always run: the whole
#                                workspace suite runs against it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*" >&2; }

step "real rkat-rpc"
MEERKAT_RKAT_RPC="$(scripts/install-rkat-rpc.sh 0.5.2)"
export MEERKAT_RKAT_RPC
rkat_rpc_098=""
if [ -n "${MEERKAT_RPC_VERSIONS:-}" ]; then
  for version in ${MEERKAT_RPC_VERSIONS//,/ }; do
    case "$version" in
      0.5.2) ;;
      0.9.8) rkat_rpc_098="$(scripts/install-rkat-rpc.sh 0.9.8)" ;;
      *) echo "error: MEERKAT_RPC_VERSIONS: $version is not a line this project tests (0.5.2, 0.9.8)" >&2
         exit 2 ;;
    esac
  done
  why_098="not listed in MEERKAT_RPC_VERSIONS=$MEERKAT_RPC_VERSIONS"
else
  rkat_rpc_098="$(scripts/install-rkat-rpc.sh --installed 0.9.8 2>/dev/null)" || rkat_rpc_098=""
  why_098="not in the cache; MEERKAT_RPC_VERSIONS=0.5.2,0.9.8 installs it"
fi
# Said loudly, never skipped silently: which server lines this run proves.
banner() {
  echo "server lines of the end-to-end suites in this run:" >&2
  echo "  rkat-rpc 0.5.2: every end-to-end suite (the whole workspace test run)" >&2
  if [ -n "$rkat_rpc_098" ]; then
    echo "  rkat-rpc 0.9.8: every real-server scenario (real_*, both transports)" >&2
  else
    echo "  rkat-rpc 0.9.8: NOT RUN ($why_098);" >&2
    echo "    0.9.8 is covered by its real transcripts only in this run" >&2
  fi
}
banner

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc -D warnings, as docs.rs builds it (--cfg docsrs)"
RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc --workspace --no-deps --locked

step "purity: no tokio under meerkat-proto, meerkat-host and meerkat-transport-blocking"
for pkg in meerkat-proto meerkat-host meerkat-transport-blocking; do
  if cargo tree -p "$pkg" -e normal --locked | grep -E '\btokio\b'; then
    echo "error: $pkg depends on tokio" >&2
    exit 1
  fi
done

step "the library crates package for crates.io (built from their tarballs)"
package_log="$(mktemp)"
if ! cargo package --locked --allow-dirty -p meerkat-proto -p meerkat-transport-tokio \
  -p meerkat-transport-blocking -p meerkat-host >"$package_log" 2>&1; then
  cat "$package_log" >&2
  exit 1
fi
grep -E '^ *(Packaged|Verifying|warning)' "$package_log" >&2 || true
rm -f "$package_log"

step "fuzz targets build"
toolchain="$(scripts/ensure-fuzz-tools.sh)"
if [ -z "$toolchain" ]; then export RUSTC_BOOTSTRAP=1; fi
(cd fuzz && cargo $toolchain fuzz build --dev)
unset RUSTC_BOOTSTRAP

step "reliability: every attack holds (scripts/attack.sh --short)"
scripts/attack.sh --short >&2

if [ -n "$rkat_rpc_098" ]; then
  step "real-server scenarios against rkat-rpc 0.9.8"
  CI=true INSTA_UPDATE=no MEERKAT_RKAT_RPC="$rkat_rpc_098" \
    cargo test -p meerkat-tests --test integration --locked real_
fi

step "cargo test (end-to-end suites against rkat-rpc 0.5.2)"
banner
# CI=true makes insta refuse to write snapshots: a mismatch fails the test.
CI=true INSTA_UPDATE=no cargo test --workspace --locked
