#!/usr/bin/env bash
# The side-by-side benchmarks (issue 6): the tokio and blocking transports,
# the official Python SDK (meerkat-sdk 0.5.0, installed from PyPI into a
# venv in the cache) and the physical floor, all against the same
# fake-rkat-rpc emitting as fast as it can. Prints one table and rewrites
# the "Transports" section of BENCHMARKS.md with it.
# Issue 13 adds two workloads against the real rkat-rpc servers in the cache
# and the scripted LLM: cold start (6: connect to handshake done and to the
# first text_delta, 0.5.2 and 0.9.8) and the official Python SDK's current
# release (0.9.x, a second venv) beside ours on 0.9.8 (7), plus its measured
# refusal of the fake (contract 0.5.2).
#
#   MEERKAT_CACHE_DIR   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs)
#   BENCH_SKIP_FOOTPRINT=1   skip the clean builds of workload 5 (slow)
#   BENCH_ONLY=coldstart,python09   run only these groups (of stream,
#       roundtrip, fanout, memory, footprint, coldstart, python09); the
#       other subsections of BENCHMARKS.md are kept as they are
#   BENCH_COLD_RUNS=7   runs per cold-start row (the median is reported)
#   BENCH_TURNS=20 BENCH_LISTS=500   streamed turns and session/list calls of 7
#   BENCH_RESULTS_DIR=dir   keep every workload's JSON result there (one
#       file a round for workloads 1-4, e.g. stream-tokio.3.json)
#   BENCH_ROUNDS=5   rounds of workloads 1-4: round i runs every
#       implementation of each workload once, so that a transport and its
#       floor share the load of that round; the tables give the median over
#       rounds, and the goals table of issue 13 says how many rounds met each
#       goal (a goal met only in the best round is not met)
# Sizes, for quick runs (a non-default size is named in the report's
# command line; the goals of issue 13 are stated for the defaults):
#   BENCH_EVENTS=100000   events of the stream (workload 1)
#   BENCH_REQUESTS=10000   sequential requests of the round trip (2)
#   BENCH_FANOUT="100 2000"   sessions and events per session of the fan-out (3)
#   BENCH_MEMORY_EVENTS=1000000   events to the slow reader (4)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
cache="${MEERKAT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meerkat-rs}"
target="${CARGO_TARGET_DIR:-$root/target}"
if [ -n "${BENCH_RESULTS_DIR:-}" ]; then  # keep the JSON results there
  out="$BENCH_RESULTS_DIR"; mkdir -p "$out"
else
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
only="${BENCH_ONLY:-}"
want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

# The rounds and sizes of workloads 1-4 (see above).
rounds="${BENCH_ROUNDS:-5}"
events="${BENCH_EVENTS:-100000}"
requests="${BENCH_REQUESTS:-10000}"
read -r fanout_sessions fanout_events extra <<< "${BENCH_FANOUT:-100 2000}" || true
memory_events="${BENCH_MEMORY_EVENTS:-1000000}"
for v in rounds events requests fanout_sessions fanout_events memory_events; do
  if ! [[ "${!v:-}" =~ ^[1-9][0-9]*$ ]] || [ -n "${extra:-}" ]; then
    echo "error: BENCH_ROUNDS, BENCH_EVENTS, BENCH_REQUESTS, BENCH_MEMORY_EVENTS must be positive numbers and BENCH_FANOUT two (\"sessions events\")" >&2
    exit 2
  fi
done

echo "==> building (release)" >&2
cargo build --release --locked -p meerkat-bench -p meerkat-tests --bin meerkat-bench --bin fake-rkat-rpc >&2
bench="$target/release/meerkat-bench"
fake="$target/release/fake-rkat-rpc"
# Every workload runs against this fake; a short burst result keeps the
# Python SDK (which hangs on lines over 64 KiB) in the race.
export FAKE_RKAT_BURST_SHORT_RESULT=1

# venv DIR REQUIREMENT: prints the venv's python once meerkat-sdk imports,
# installing it from PyPI the first time; nothing when pip fails.
venv() {
  local dir=$1 req=$2
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import meerkat' 2>/dev/null; then
    echo "$dir/bin/python"
  elif python3 -m venv "$dir" >&2 && "$dir/bin/pip" install --quiet "$req" >&2; then
    echo "$dir/bin/python"
  fi
}
echo "==> Python SDK venvs" >&2
python="$(venv "$cache/pyvenv-meerkat-sdk-0.5.0" 'meerkat-sdk==0.5.0')"
if [ -z "$python" ]; then
  python_na="pip could not install meerkat-sdk==0.5.0 from PyPI"
  echo "warning: $python_na; its rows say n/a" >&2
fi
# The current release line (0.9.x), in its own venv.
python09=""
if want python09 || want coldstart || want stream || want roundtrip; then
  python09="$(venv "$cache/pyvenv-meerkat-sdk-0.9" 'meerkat-sdk>=0.9,<0.10')"
  [ -n "$python09" ] || echo "warning: pip could not install meerkat-sdk 0.9.x; its rows say n/a" >&2
fi
rkat05="$cache/rkat-rpc-0.5.2/bin/rkat-rpc"
rkat09="$cache/rkat-rpc-0.9.8/bin/rkat-rpc"

run() { # name, command...
  local name=$1; shift
  echo "==> $name" >&2
  if "$@" > "$out/$name.json" 2>"$out/$name.err"; then :; else
    echo "{\"error\": \"$(tail -c 300 "$out/$name.err" | tr '"\n' "' ")\"}" > "$out/$name.json"
  fi
}

# The load average before and after a group (the report prints both).
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Results of an earlier run in BENCH_RESULTS_DIR of the groups that run now
# (a run with fewer rounds would otherwise leave stale rounds beside them).
for g in stream roundtrip fanout memory; do
  if want "$g"; then rm -f "$out/$g-"*.json "$out/$g-"*.err; fi
done
# What the report needs to know of this run (rounds, sizes, groups).
python3 - "$out/run.json" "$rounds" "$events" "$requests" "$fanout_sessions" "$fanout_events" "$memory_events" "$only" <<'PY'
import json, sys
a = sys.argv
json.dump({"rounds": int(a[2]), "events": int(a[3]), "requests": int(a[4]),
           "fanout": [int(a[5]), int(a[6])], "memory_events": int(a[7]), "only": a[8]},
          open(a[1], "w"))
PY

if [ -z "$python" ]; then
  for w in stream roundtrip; do echo "{\"na\": \"$python_na\"}" > "$out/$w-python.json"; done
fi

# Can the Python SDK 0.9.x speak to the fake (contract 0.5.2)? Measured:
# it connects, and its refusal (or success) is what the rows say.
if ! want python09 && ! want stream && ! want roundtrip; then :
elif [ -n "$python09" ]; then
  run probe-python09 env FAKE_RKAT_SCENARIO=normal "$python09" bench/py_bench.py probe "$fake"
else
  echo '{"na": "pip could not install meerkat-sdk 0.9.x from PyPI"}' > "$out/probe-python09.json"
fi
python09_fake=""  # set when it can connect to the fake
if [ -n "$python09" ] && python3 -c "import json,sys;sys.exit(0 if json.load(open('$out/probe-python09.json')).get('connected') else 1)"; then
  python09_fake="$python09"
fi

# Workloads 1-4 in interleaved rounds: round i runs every implementation of
# each workload once (this is a shared VM: single runs swing by 30%, and
# the load drifts between consecutive runs of one row). A transport's ratio
# to its floor is taken within one round, and every round is kept
# (NAME.i.json): the report gives medians and, per goal of issue 13, how
# many rounds met it; no round is picked as the best.
if want stream || want roundtrip || want fanout || want memory; then
  load_start=$(loadavg)
  for i in $(seq "$rounds"); do
    echo "==> round $i of $rounds" >&2
    if want stream; then
      for impl in floor tokio blocking; do run "stream-$impl.$i" "$bench" stream "$impl" "$fake" "$events"; done
      if [ -n "$python" ]; then
        run "stream-python.$i" env FAKE_RKAT_SCENARIO="burst $events 8" "$python" bench/py_bench.py stream "$fake" "$events"
      fi
      if [ -n "$python09_fake" ]; then
        run "stream-python09.$i" env FAKE_RKAT_SCENARIO="burst $events 8" "$python09_fake" bench/py_bench.py stream "$fake" "$events"
      fi
    fi
    if want roundtrip; then
      for impl in echo echo-threads echo-threads4 floor floor-threads4 tokio tokio-task blocking; do
        run "roundtrip-$impl.$i" "$bench" roundtrip "$impl" "$fake" "$requests"
      done
      if [ -n "$python" ]; then
        run "roundtrip-python.$i" env FAKE_RKAT_SCENARIO=normal "$python" bench/py_bench.py roundtrip "$fake" "$requests"
      fi
      if [ -n "$python09_fake" ]; then
        run "roundtrip-python09.$i" env FAKE_RKAT_SCENARIO=normal "$python09_fake" bench/py_bench.py roundtrip "$fake" "$requests"
      fi
    fi
    if want fanout; then
      for impl in floor tokio blocking; do
        run "fanout-$impl.$i" "$bench" fanout "$impl" "$fake" "$fanout_sessions" "$fanout_events"
      done
    fi
    # Workload 4: the consumer reads at a tenth of the rate this round's
    # stream measured for the same transport (it pauses after every 1,000
    # events); 20 ms a pause when the stream did not run.
    if want memory; then
      for impl in tokio blocking; do
        pause_us=20000
        if want stream; then
          pause_us=$(python3 -c "import json;r=json.load(open('$out/stream-$impl.$i.json')).get('events_per_s',500000);print(int(1000/(r/10)*1e6))" 2>/dev/null || echo 20000)
        fi
        run "memory-$impl.$i" "$bench" memory "$impl" "$fake" "$memory_events" "$pause_us"
      done
    fi
  done
  echo "{\"start\": \"$load_start\", \"end\": \"$(loadavg)\"}" > "$out/load-rounds.json"
fi

# real VERSION BINARY NAME WORKLOAD IMPL ARGS...: a workload against a real
# rkat-rpc (n/a with the reason when it is not installed, or the SDK is
# missing).
real() {
  local version=$1 binary=$2 name=$3 workload=$4 impl=$5; shift 5
  if [ ! -x "$binary" ]; then
    echo "{\"na\": \"rkat-rpc $version is not installed (scripts/install-rkat-rpc.sh $version)\"}" > "$out/$name.json"
  elif [ "$impl" = "python:" ]; then
    echo '{"na": "the Python SDK could not be installed from PyPI"}' > "$out/$name.json"
  else
    run "$name" env MEERKAT_RKAT_RPC="$binary" "$bench" "$workload" "$impl" "$@"
  fi
}
py05="python:$python"; [ -z "$python" ] || py05="$py05:bench/py_bench.py"
py09="python:$python09"; [ -z "$python09" ] || py09="$py09:bench/py_bench.py"

# Workload 6: cold start, every row on the same server binary and scripted
# LLM, a fresh realm and state root per run; the median of BENCH_COLD_RUNS.
# The rows of 0.5.2 and 0.9.8 alternate so that load drifts hit both.
if want coldstart; then
  cold_runs="${BENCH_COLD_RUNS:-7}"
  load_start=$(loadavg)
  impls=(raw tokio blocking python)
  # One run of every row per round, the order rotated each round, so that
  # the load of the other builds on this machine falls on all rows alike.
  for i in $(seq "$cold_runs"); do
    for j in 0 1 2 3; do
      impl=${impls[$(( (i + j) % 4 ))]}
      p="$impl"; [ "$impl" = python ] && p="$py05"
      real 0.5.2 "$rkat05" "coldstart-05-$impl.$i" coldstart "$p" 1
      p="$impl"; [ "$impl" = python ] && p="$py09"
      real 0.9.8 "$rkat09" "coldstart-09-$impl.$i" coldstart "$p" 1
    done
  done
  python3 - "$out" "$cold_runs" <<'PY'
import json, sys, pathlib, statistics
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
for v in ("05", "09"):
    for impl in ("raw", "tokio", "blocking", "python"):
        name = f"coldstart-{v}-{impl}"
        runs = [json.loads((out / f"{name}.{i}.json").read_text()) for i in range(1, n + 1)]
        for i in range(1, n + 1):
            (out / f"{name}.{i}.json").unlink()
        # A failed run (a turn that failed, a deadline) is left out and
        # counted; a row with no good run reports the first failure.
        bad = [r for r in runs if "handshake_ms" not in r]
        runs = [r for r in runs if "handshake_ms" in r]
        if not runs:
            (out / f"{name}.json").write_text(json.dumps(bad[0]))
            continue
        merged = dict(runs[0], runs=len(runs), load_start=runs[0]["load_start"], load_end=runs[-1]["load_end"])
        if bad:
            merged["failed_runs"] = len(bad)
            merged["failure"] = str(bad[0].get("error") or bad[0].get("na"))[:200]
        for key in ("handshake_ms", "first_delta_ms", "initialize_ms", "exec_ms"):
            xs = sorted(x for r in runs if key in r for x in r[key]["samples"])
            if xs:
                merged[key] = {"median": statistics.median(xs), "min": xs[0], "max": xs[-1], "samples": xs}
        (out / f"{name}.json").write_text(json.dumps(merged))
PY
  echo "{\"start\": \"$load_start\", \"end\": \"$(loadavg)\"}" > "$out/load-coldstart.json"
fi

# Workload 7: the Python SDK 0.9.x beside ours on the real rkat-rpc 0.9.8:
# a short streamed turn and a session/list round trip, one connection each.
if want python09; then
  turns="${BENCH_TURNS:-20}" lists="${BENCH_LISTS:-500}"
  load_start=$(loadavg)
  for impl in tokio blocking python; do
    p="$impl"; [ "$impl" = python ] && p="$py09"
    real 0.9.8 "$rkat09" "session-09-$impl" session "$p" "$turns" "$lists"
  done
  echo "{\"start\": \"$load_start\", \"end\": \"$(loadavg)\"}" > "$out/load-python09.json"
fi

if want footprint && [ "${BENCH_SKIP_FOOTPRINT:-}" != 1 ]; then
  echo "==> footprint: clean release builds" >&2
  for crate in meerkat-transport-tokio meerkat-transport-blocking; do
    scratch="$(mktemp -d)"
    start=$(date +%s.%N)
    CARGO_TARGET_DIR="$scratch" cargo build --release --locked -q -p "$crate" >&2
    end=$(date +%s.%N)
    rm -rf "$scratch"
    crates=$(cargo tree --locked -p "$crate" -e normal --prefix none | sed 's/ (\*)$//' | sort -u | wc -l)
    echo "{\"build_s\": $(python3 -c "print(round($end-$start,1))"), \"crates\": $crates}" > "$out/footprint-$crate.json"
  done
  # The meerkat crate itself (what embedding the runtime would pull in).
  probe="$(mktemp -d)"
  mkdir -p "$probe/src" && echo 'fn main() {}' > "$probe/src/main.rs"
  printf '[package]\nname = "probe"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nmeerkat = "=0.5.2"\n' > "$probe/Cargo.toml"
  if crates=$(cd "$probe" && cargo tree -e normal --prefix none 2>/dev/null | sed 's/ (\*)$//' | sort -u | wc -l) && [ "$crates" -gt 1 ]; then
    echo "{\"crates\": $crates}" > "$out/footprint-meerkat.json"
  else
    echo '{"error": "could not resolve meerkat 0.5.2"}' > "$out/footprint-meerkat.json"
  fi
  rm -rf "$probe"
fi

python3 bench/report.py "$out" BENCHMARKS.md
