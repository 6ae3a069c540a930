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


def python09_fake(d):
    """The row name of the Python SDK 0.9.x against the fake, from its
    measured probe: 'n/a: refuses contract 0.5.2 (<its error>)' when it
    refused; None when the probe did not run."""
    r = load(d, "probe-python09")
    if r is None:
        return None
    sdk = r.get("sdk") or "0.9.x"
    if r.get("connected"):
        return f"Python meerkat-sdk {sdk}"
    why = r.get("na") or r.get("error") or "?"
    if "VERSION_MISMATCH" in why:
        return f"Python meerkat-sdk {sdk} (n/a: refuses contract 0.5.2; measured: `{why}`)"
    return f"Python meerkat-sdk {sdk} (n/a: {why})"


def med(r, key):
    v = (r or {}).get(key)
    return v.get("median") if isinstance(v, dict) else None


def rng(r, key):
    v = (r or {}).get(key)
    return f"{v['min']:,.0f}-{v['max']:,.0f}" if isinstance(v, dict) and v.get("samples") else "n/a"


def why_na(r):
    if r is None:
        return "not run"
    return r.get("na") or (r.get("error") and f"failed: {r['error'][:160]}") or None


def loads(d, group):
    r = load(d, f"load-{group}") or {}
    return f"{r.get('start', 'n/a')} at the start, {r.get('end', 'n/a')} at the end"


def coldstart(d, add):
    add("### 6. Cold start: `connect()` to the handshake and to the first `text_delta` (real rkat-rpc, scripted LLM)\n")
    runs = None
    add("| server | implementation | handshake done ms, median | range | first `text_delta` ms, median | range | first delta vs floor |")
    add("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    rows = []
    for v, server in (("05", "rkat-rpc 0.5.2"), ("09", "rkat-rpc 0.9.8")):
        floor = med(load(d, f"coldstart-{v}-raw"), "first_delta_ms")
        for k in ("raw", "tokio", "blocking", "python"):
            r = load(d, f"coldstart-{v}-{k}")
            rows.append(r)
            if k == "raw":
                init, ex = med(r, "initialize_ms"), med(r, "exec_ms")
                name = "floor: raw JSON lines on a pipe, no SDK" + (
                    f" (`initialize` answered at {init:,.0f} ms; the bare exec, `rkat-rpc --version` to its exit, "
                    f"{ex:,.0f} ms)" if init and ex else "")
            elif k == "python":
                name = f"Python meerkat-sdk {(r or {}).get('sdk') or ('0.5.0' if v == '05' else '0.9.x')}"
            else:
                name = f"meerkat-transport-{k}"
            na = why_na(r)
            if na or med(r, "first_delta_ms") is None:
                add(f"| {server} | {name} (n/a: {na or 'no result'}) | n/a | n/a | n/a | n/a | n/a |")
                continue
            runs = r.get("runs", runs)
            if r.get("failed_runs"):
                name += f" ({r['failed_runs']} failed runs left out: {r.get('failure')})"
            fd = med(r, "first_delta_ms")
            add(f"| {server} | {name} | {fmt(med(r, 'handshake_ms'))} | {rng(r, 'handshake_ms')} | {fmt(fd)} "
                f"| {rng(r, 'first_delta_ms')} | {fmt(fd / floor if fd and floor else None, 'x')} |")
    add(f"\nMedian of {runs or 'n/a'} runs a row, each a fresh state root and realm (written before the clock "
        f"starts), one run of every row per round, rows rotated each round; the Python rows time inside the "
        f"interpreter, after its imports. Load average (1, 5, 15 min) {loads(d, 'coldstart')}; "
        f"measured {sh('date -u +%Y-%m-%dT%H:%MZ')}.")


def python09(d, add):
    add("\n### 7. The Python SDK's current release beside ours: real rkat-rpc 0.9.8, scripted LLM\n")
    p09 = python09_fake(d)
    if p09 is not None:
        add(f"Against `fake-rkat-rpc` (workloads 1-3, contract 0.5.2): {p09}.\n")
    add("| implementation | first `text_delta` ms, median | streamed turn ms, median (range) | `session/list` p50 µs | p99 µs |")
    add("| --- | ---: | ---: | ---: | ---: |")
    rows, turns, lists = [], None, None
    for k in ("tokio", "blocking", "python"):
        r = load(d, f"session-09-{k}")
        rows.append(r)
        name = f"Python meerkat-sdk {(r or {}).get('sdk') or '0.9.x'}" if k == "python" else f"meerkat-transport-{k}"
        na = why_na(r)
        if na or "list_p50_us" not in (r or {}):
            add(f"| {name} (n/a: {na or 'no result'}) | n/a | n/a | n/a | n/a |")
            continue
        turns, lists = r.get("turns"), r.get("requests")
        add(f"| {name} | {fmt(med(r, 'first_delta_ms'))} | {fmt(med(r, 'turn_ms'))} ({rng(r, 'turn_ms')}) "
            f"| {fmt(r.get('list_p50_us'))} | {fmt(r.get('list_p99_us'))} |")
    add(f"\nOne connection a row, its own fresh realm: a first turn, then {turns or 'n/a'} streamed turns of "
        f"12 `text_delta` each (timed from the call to the end of the stream), then {lists or 'n/a'} sequential "
        f"`session/list` (one session listed). Load average (1, 5, 15 min) {loads(d, 'python09')}; "
        f"measured {sh('date -u +%Y-%m-%dT%H:%MZ')}.")


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


GROUPS = {"stream": "1", "roundtrip": "2", "fanout": "3", "memory": "4", "footprint": "5",
          "coldstart": "6", "python09": "7"}


def merge(old, new, keep, fix=lambda num, text: text):
    """Subsections ("### N. ...") of `new` replace those of `old` whose
    number is not in `keep`; the rest of `old` stays as it was, passed
    through `fix(number, text)`."""
    def split(text):
        head, *subs = re.split(r"^(?=### \d+\. )", text, flags=re.M)
        return head, {re.match(r"### (\d+)\.", x).group(1): x for x in subs}
    old_head, old_subs = split(old)
    _, new_subs = split(new)
    nums = sorted(set(old_subs) | set(new_subs), key=int)
    parts = [fix(n, old_subs[n]) if (n in keep and n in old_subs) or n not in new_subs else new_subs[n]
             for n in nums]
    return old_head + "".join(p.rstrip("\n") + "\n\n" for p in parts)


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
    p09 = python09_fake(d)
    for k in ("floor", "tokio", "blocking", "python"):
        r = s[k] or {}
        eps = r.get("events_per_s")
        add(f"| {names[k]} | {fmt(eps)} | {fmt(eps / floor if eps and floor else None, 'x')} "
            f"| {fmt(eps / py if eps and py else None, 'x')} | {fmt(r.get('dropped'))} |")
    if p09 is not None:
        r = load(d, "stream-python09") or {}
        eps = r.get("events_per_s")
        add(f"| {p09} | {fmt(eps) if eps else 'n/a'} | {fmt(eps / floor if eps and floor else None, 'x')} "
            f"| {fmt(eps / py if eps and py else None, 'x')} | n/a |")

    # 2. round trip
    add("\n### 2. Request round trip: 10,000 sequential `session/list`\n")
    add("| implementation | p50 µs | p99 µs | p50 vs echo |")
    add("| --- | ---: | ---: | ---: |")
    rt = {k: load(d, f"roundtrip-{k}") for k in ("echo", "echo-threads", "echo-threads4", "floor", "floor-threads4", "tokio", "tokio-task", "blocking", "python")}
    echo = (rt["echo"] or {}).get("p50_us")
    rnames = {"echo": "floor: a line through `cat` and back",
              "echo-threads": "the same echo through a transport's thread chain (6 handoffs, no other work)",
              "echo-threads4": "the same echo with 4 handoffs (caller -> writer, reader -> caller; no driver)",
              "floor": "raw JSON lines to the fake, no SDK",
              "floor-threads4": "raw JSON lines to the fake through the 4 handoffs (what the SDK rows are measured against)",
              "tokio": names["tokio"] + " (called from `block_on`)",
              "tokio-task": names["tokio"] + " (called from a spawned task)",
              "blocking": names["blocking"], "python": names["python"]}
    for k in ("echo", "echo-threads", "echo-threads4", "floor", "floor-threads4", "tokio", "tokio-task", "blocking", "python"):
        r = rt[k] or {}
        p50 = r.get("p50_us")
        add(f"| {rnames[k]} | {fmt(p50)} | {fmt(r.get('p99_us'))} | {fmt(p50 / echo if p50 and echo else None, 'x')} |")
    if p09 is not None:
        r = load(d, "roundtrip-python09") or {}
        p50 = r.get("p50_us")
        add(f"| {p09} | {fmt(p50) if p50 else 'n/a'} | {fmt(r.get('p99_us')) if p50 else 'n/a'} "
            f"| {fmt(p50 / echo if p50 and echo else None, 'x')} |")

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

    add("")
    coldstart(d, add)
    python09(d, add)

    errors = [p.stem for p in sorted(d.glob("*.json")) if "error" in (load(d, p.stem) or {})]
    table = "\n".join(lines)
    print(table)
    if errors:
        print(f"\nworkloads that failed: {', '.join(errors)}")

    section = (f"## Transports\n\nCommand: `scripts/bench.sh` (release build; every workload against the same "
               f"`fake-rkat-rpc`, scenario `burst N 8`; workloads 1-3 keep the best of {os.environ.get('BENCH_ROUNDS', '3')} runs, every row alike; "
               f"fan-out fairness is the median of those runs; workloads 6 and 7 run against the real rkat-rpc servers "
               f"in the cache and the scripted LLM, see their notes).\n"
               f"Machine: {machine()}.\n\n{table}\n")
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    # Replace the generated part only: from "## Transports" up to the hand-written
    # "### What bounds these numbers" (kept), or the next "## ", or the end.
    m = re.search(r"^## Transports\n.*?(?=^### What bounds these numbers|^## |\Z)", text, flags=re.S | re.M)
    only = [g for g in os.environ.get("BENCH_ONLY", "").split(",") if g]
    if m and only:
        # A partial run: only the subsections of the groups that ran are
        # replaced; the header (command, machine line) and the others stay.
        keep = {n for g, n in GROUPS.items() if g not in only}
        p09 = python09_fake(d)

        def fix(num, sub):
            # The probe ran: its row in the kept tables 1 and 2 is redone
            # (the other rows there are those of the last full run).
            if p09 is None or num not in ("1", "2"):
                return sub
            cells = 4 if num == "1" else 3
            sub = re.sub(r"^\| Python meerkat-sdk 0\.9.*\n", "", sub, flags=re.M)
            return re.sub(r"^(\| Python meerkat-sdk 0\.5\.0 \|.*\n)",
                          lambda mm: mm.group(1) + f"| {p09} |" + " n/a |" * cells + "\n", sub, count=1, flags=re.M)

        kept = merge(m.group(0), section, keep, fix)
        # The header's machine line is the last full run's; the partial
        # run adds its own line under it.
        note = f"Partial run `BENCH_ONLY={','.join(only)}` (subsections {', '.join(sorted(GROUPS[g] for g in only if g in GROUPS))}): {machine()}."
        kept = re.sub(r"^Partial run `BENCH_ONLY=.*\n", "", kept, flags=re.M)
        kept = re.sub(r"^(Machine: .*\n)", lambda mm: mm.group(1) + note + "\n", kept, count=1, flags=re.M)
        text = text[:m.start()] + kept + text[m.end():]
    elif m:
        text = text[:m.start()] + section + "\n" + text[m.end():]
    else:
        text = text.rstrip() + "\n\n" + section
    md.write_text(text)


if __name__ == "__main__":
    main()
