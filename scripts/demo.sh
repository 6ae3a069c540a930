#!/usr/bin/env bash
# The main job: a demo of the SDK against a real rkat-rpc.
#
# Installs rkat-rpc into the cache when missing: 0.5.2, or the version in
# MEERKAT_RPC_VERSION (`MEERKAT_RPC_VERSION=0.9.8 scripts/demo.sh`; 0.9.8
# takes 50-70 minutes to build the first time). Uses the real
# Anthropic API when ANTHROPIC_API_KEY is set, and the project's scripted
# Anthropic-compatible LLM on 127.0.0.1 otherwise; the demo says which.
set -euo pipefail
cd "$(dirname "$0")/.."
MEERKAT_RKAT_RPC="$(scripts/install-rkat-rpc.sh "${MEERKAT_RPC_VERSION:-0.5.2}")"
export MEERKAT_RKAT_RPC
exec cargo run --quiet --locked -p meerkat-tests --bin demo -- "$@"
