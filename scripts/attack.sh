#!/usr/bin/env bash
# The reliability table: each misbehaving-server attack of the fake server
# against each transport, whether the client held (bounded memory, a typed
# answer instead of a hang), the peak RSS of the client process
# (/usr/bin/time -v), the wall time of the row, the code it saw and the
# engine's own figures. Exits 1 when any row did not hold.
#
#   scripts/attack.sh                 # every attack, both transports, full size
#   scripts/attack.sh --short         # the CI size (scripts/test.sh): a few seconds a row
#   scripts/attack.sh deaf huge-line  # some attacks
#   ATTACK_SHORT=1 scripts/attack.sh  # the same as --short
#
# Memory: each client runs under `ulimit -v` (ATTACK_VMEM_KIB, 4 GiB by
# default: tokio's threads reserve address space, so the real ceiling is
# the peak RSS bound, ATTACK_MAX_RSS_MIB, 512 by default, checked here).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
short=()
[ -n "${ATTACK_SHORT:-}" ] && short=(--short)
attacks=()
for arg in "$@"; do
    case "$arg" in
        --short) short=(--short) ;;
        *) attacks+=("$arg") ;;
    esac
done
if [ ${#attacks[@]} -eq 0 ]; then
    attacks=(deaf tool-flood strangers bad-utf8 huge-line deep-nest odd-ids unknown-tools
             connect-close dropped-runtime dropped-turns)
fi
vmem="${ATTACK_VMEM_KIB:-4194304}"
max_rss_mib="${ATTACK_MAX_RSS_MIB:-512}"
cargo build -q -p meerkat-tests --bin attack --bin fake-rkat-rpc --locked
export FAKE_RKAT_RPC="$target/debug/fake-rkat-rpc"
failed=0
printf '| attack | transport | held? | peak RSS | time | code seen | engine figures |\n'
printf '| --- | --- | --- | --- | --- | --- | --- |\n'
for attack in "${attacks[@]}"; do
    case "$attack" in
        dropped-runtime|dropped-turns) transports=(tokio) ;;
        *) transports=(tokio blocking) ;;
    esac
    for transport in "${transports[@]}"; do
        log="$(mktemp)"
        line="$( (ulimit -v "$vmem"; /usr/bin/time -v "$target/debug/attack" "$attack" "$transport" ${short[@]+"${short[@]}"}) 2>"$log" || true)"
        rss_kib="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
        rss="$(awk -v k="${rss_kib:-0}" 'BEGIN {printf "%.0f MiB", k/1024}')"
        wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")"
        IFS=$'\t' read -r _ _ held code figures <<<"$line" || true
        held="${held:-crashed}"
        if [ "$held" = yes ] && [ "${rss_kib:-0}" -gt $((max_rss_mib * 1024)) ]; then
            held="NO (RSS over $max_rss_mib MiB)"
        fi
        [ "$held" = yes ] || failed=1
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$attack" "$transport" "$held" "$rss" "${wall:-?}" "${code:-}" "${figures:-$(grep -v '^\s' "$log" | tail -1)}"
        rm -f "$log"
    done
done
if [ "$failed" -ne 0 ]; then
    echo "error: an attack did not hold" >&2
    exit 1
fi
