"""Formats the JSON results of scripts/bench.sh as one table, prints it, and
rewrites the "## Transports" section of BENCHMARKS.md with it.

    python3 bench/report.py <results-dir> <BENCHMARKS.md>
"""
import json
import os
import pathlib
import platform
import re
import subprocess
import sys


def load(d, name):
    p = d / f"{name}.json"
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text())
    except ValueError:
        return {"error": p.read_text()[:200]}


def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        v = f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"
    else:
        v = f"{v:,}"
    return f"{v}{unit}"


def machine():
    def sh(cmd):
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    model = sh("lscpu | sed -n 's/^Model name:[ ]*//p' | head -1") or platform.processor()
    cores, mem = sh("nproc"), sh("free -g | awk '/Mem:/{print $2}'")
    load = sh("cut -d' ' -f1-3 /proc/loadavg")
    rustc, pyv, when = sh("rustc --version"), sh("python3 --version"), sh("date -u +%Y-%m-%dT%H:%MZ")
    return (f"{cores} cores ({model}), {mem} GiB RAM, {platform.system()} {platform.release()}, "
            f"{rustc}, {pyv}; load average {load} at the end (other builds share the cores); measured {when}")


def main():
    d, md = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    lines = []
    add = lines.append

    # 1. stream
    s = {k: load(d, f"stream-{k}") for k in ("floor", "tokio", "blocking", "python")}
    floor = (s["floor"] or {}).get("events_per_s")
    py = (s["python"] or {}).get("events_per_s")
    add("### 1. Stream throughput: one turn of 100,000 `text_delta` events\n")
    add("| implementation | events/s | vs floor | vs Python SDK | dropped (`Lagged`) |")
    add("| --- | ---: | ---: | ---: | ---: |")
    names = {"floor": "floor: read pipe, split lines, `IgnoredAny`", "tokio": "meerkat-transport-tokio",
             "blocking": "meerkat-transport-blocking", "python": "Python meerkat-sdk 0.5.0"}
    if (s["python"] or {}).get("na"):
        names["python"] += f" (n/a: {s['python']['na']})"
    for k in ("floor", "tokio", "blocking", "python"):
        r = s[k] or {}
        eps = r.get("events_per_s")
        add(f"| {names[k]} | {fmt(eps)} | {fmt(eps / floor if eps and floor else None, 'x')} "
            f"| {fmt(eps / py if eps and py else None, 'x')} | {fmt(r.get('dropped'))} |")

    # 2. round trip
    add("\n### 2. Request round trip: 10,000 sequential `session/list`\n")
    add("| implementation | p50 µs | p99 µs | p50 vs echo |")
    add("| --- | ---: | ---: | ---: |")
    rt = {k: load(d, f"roundtrip-{k}") for k in ("echo", "echo-threads", "echo-threads4", "floor", "tokio", "blocking", "python")}
    echo = (rt["echo"] or {}).get("p50_us")
    rnames = {"echo": "floor: a line through `cat` and back",
              "echo-threads": "the same echo through a transport's thread chain (6 handoffs, no other work)",
              "echo-threads4": "the same echo with 4 handoffs (caller -> writer, reader -> caller; no driver)",
              "floor": "raw JSON lines to the fake, no SDK",
              "tokio": names["tokio"], "blocking": names["blocking"], "python": names["python"]}
    for k in ("echo", "echo-threads", "echo-threads4", "floor", "tokio", "blocking", "python"):
        r = rt[k] or {}
        p50 = r.get("p50_us")
        add(f"| {rnames[k]} | {fmt(p50)} | {fmt(r.get('p99_us'))} | {fmt(p50 / echo if p50 and echo else None, 'x')} |")

    # 3. fan-out
    add("\n### 3. Fan-out: 100 sessions streaming 2,000 events each, at once, on one client\n")
    add("| implementation | total events/s | fairness (slowest / fastest), median of runs | fairness range | dropped (`Lagged`) |")
    add("| --- | ---: | ---: | ---: | ---: |")
    for k, n in (("floor", "the fake's own delivery, read raw"), ("tokio", names["tokio"]), ("blocking", names["blocking"])):
        r = load(d, f"fanout-{k}") or {}
        fr = r.get("fairness_runs") or ([r["fairness"]] if "fairness" in r else [])
        med = fr[len(fr) // 2] if fr else None
        rng = f"{fr[0]:.2f}-{fr[-1]:.2f}" if fr else "n/a"
        add(f"| {n} | {fmt(r.get('events_per_s'))} | {fmt(med)} | {rng} | {fmt(r.get('dropped'))} |")

    # 4. memory
    add("\n### 4. Memory: 1,000,000 events to a consumer reading at a tenth of the arrival rate\n")
    add("| implementation | peak RSS MiB | baseline MiB | delivered | dropped (reported as `Lagged`) |")
    add("| --- | ---: | ---: | ---: | ---: |")
    for k in ("tokio", "blocking"):
        r = load(d, f"memory-{k}") or {}
        add(f"| {names[k]} | {fmt(r.get('peak_rss_mib'))} | {fmt(r.get('baseline_rss_mib'))} "
            f"| {fmt(r.get('delivered'))} | {fmt(r.get('dropped'))} |")

    # 5. footprint
    add("\n### 5. Footprint\n")
    add("| what | clean release build s | crates in the normal dependency tree |")
    add("| --- | ---: | ---: |")
    for k, n in (("meerkat-transport-tokio", names["tokio"]), ("meerkat-transport-blocking", names["blocking"]),
                 ("meerkat", "embedding the `meerkat` crate 0.5.2 itself")):
        r = load(d, f"footprint-{k}")
        if r is None:
            add(f"| {n} | not measured | not measured |")
        else:
            add(f"| {n} | {fmt(r.get('build_s'))} | {fmt(r.get('crates'))} |")

    errors = [p.stem for p in sorted(d.glob("*.json")) if "error" in (load(d, p.stem) or {})]
    table = "\n".join(lines)
    print(table)
    if errors:
        print(f"\nworkloads that failed: {', '.join(errors)}")

    section = (f"## Transports\n\nCommand: `scripts/bench.sh` (release build; every workload against the same "
               f"`fake-rkat-rpc`, scenario `burst N 8`; workloads 1-3 keep the best of {os.environ.get('BENCH_ROUNDS', '3')} runs, every row alike; "
               f"fan-out fairness is the median of those runs).\n"
               f"Machine: {machine()}.\n\n{table}\n")
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    # Replace the generated part only: from "## Transports" up to the hand-written
    # "### What bounds these numbers" (kept), or the next "## ", or the end.
    m = re.search(r"^## Transports\n.*?(?=^### What bounds these numbers|^## |\Z)", text, flags=re.S | re.M)
    if m:
        text = text[:m.start()] + section + "\n" + text[m.end():]
    else:
        text = text.rstrip() + "\n\n" + section
    md.write_text(text)


if __name__ == "__main__":
    main()
