#!/usr/bin/env bash
# A short reliability table: each misbehaving-server attack of the fake
# server against each transport, whether the client held (bounded memory,
# a typed answer instead of a hang), the peak RSS of the client process
# (/usr/bin/time -v) and the code it saw.
#
#   scripts/attack.sh            # every attack, both transports
#   scripts/attack.sh deaf       # one attack
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build -q -p meerkat-tests --bin attack --bin fake-rkat-rpc --locked
export FAKE_RKAT_RPC="$target/debug/fake-rkat-rpc"
attacks=("${@:-deaf tool-flood strangers bad-utf8}")
printf '| attack | transport | held? | peak RSS | code seen | engine figures |\n'
printf '| --- | --- | --- | --- | --- | --- |\n'
for attack in ${attacks[*]}; do
    for transport in tokio blocking; do
        log="$(mktemp)"
        line="$(/usr/bin/time -v "$target/debug/attack" "$attack" "$transport" 2>"$log" || true)"
        rss="$(awk -F': ' '/Maximum resident set size/ {printf "%.0f MiB", $2/1024}' "$log")"
        IFS=$'\t' read -r a t held code figures <<<"$line"
        printf '| %s | %s | %s | %s | %s | %s |\n' "$attack" "$transport" "${held:-crashed}" "$rss" "${code:-}" "${figures:-$(tail -1 "$log")}"
        rm -f "$log"
    done
done
