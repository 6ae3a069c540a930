"""Formats the JSON results of scripts/bench.sh as one table, prints it, and
rewrites the "## Transports" section of BENCHMARKS.md with it.

    python3 bench/report.py <results-dir> <BENCHMARKS.md>
"""
import json
import os
import pathlib
import platform
import re
import statistics
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


# ---- workloads 1-4: interleaved rounds -----------------------------------

# The rounds and sizes of workloads 1-4 by default, and their variables.
DEFAULTS = {"rounds": 5, "events": 100000, "requests": 10000, "fanout": [100, 2000],
            "memory_events": 1000000}
ENV = {"rounds": "BENCH_ROUNDS", "events": "BENCH_EVENTS", "requests": "BENCH_REQUESTS",
       "fanout": "BENCH_FANOUT", "memory_events": "BENCH_MEMORY_EVENTS"}


def params(d):
    """The rounds, sizes and groups of the run: run.json (written by
    bench.sh), else the environment, else the defaults."""
    p = dict(DEFAULTS, only=os.environ.get("BENCH_ONLY", ""))
    r = load(d, "run")
    if r and "rounds" in r:
        p.update(r)
        return p
    for k, var in ENV.items():
        try:
            if os.environ.get(var):
                v = os.environ[var]
                p[k] = [int(x) for x in v.split()] if k == "fanout" else int(v)
        except ValueError:
            pass
    return p


def command(p):
    """The command line of the run, naming every setting of workloads 1-4
    that differs from the defaults."""
    env = [f"BENCH_ONLY={p['only']}"] if p["only"] else []
    for k, var in ENV.items():
        if p[k] != DEFAULTS[k]:
            env.append(f'{var}="{" ".join(map(str, p[k]))}"' if k == "fanout" else f"{var}={p[k]}")
    return " ".join(env + ["scripts/bench.sh"])


def rounds(d, name, n):
    """The n rounds of a row (NAME.i.json). NAME.json stands for every
    round only when it says why the row is n/a (e.g. no Python SDK): a
    measurement in NAME.json (the best-of runs of older results) is no
    round, so it can never make a goal met."""
    whole = load(d, name)
    if not (whole and ("na" in whole or "error" in whole)):
        whole = None
    return [load(d, f"{name}.{i}") or whole for i in range(1, n + 1)]


def num(r, key):
    v = (r or {}).get(key)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def per_round(a, b, key):
    """a's `key` over b's, round by round: both measured in the same round
    (None where either is missing)."""
    return [num(x, key) / num(y, key) if num(x, key) is not None and num(y, key) else None
            for x, y in zip(a, b)]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def span(xs):
    xs = [x for x in xs if x is not None]
    return f"{fmt(min(xs))}-{fmt(max(xs))}" if xs else "n/a"


def dropped(rs):
    """Events dropped as `Lagged`: the median over rounds and the max."""
    xs = [num(r, "dropped") for r in rs if num(r, "dropped") is not None]
    return f"{median(xs):,.0f} (max {max(xs):,.0f})" if xs else "n/a"


def label(name, rs, key):
    """The row's name, with why it is n/a (no round measured `key`), or how
    many rounds failed; and whether any round measured it."""
    bad = [r for r in rs if num(r, key) is None]
    if len(bad) == len(rs):
        return f"{name} (n/a: {(why_na(bad[0]) if bad else None) or 'no result'})", False
    if bad:
        why = (bad[0] or {}).get("error") or (bad[0] or {}).get("na") or ("not run" if bad[0] is None else "no result")
        return f"{name} ({len(bad)} of {len(rs)} rounds failed: {why[:160]})", True
    return name, True


# Workload groups of the goals, by the name BENCH_ONLY gives them.
GOAL_GROUPS = {"stream": "stream throughput (1)", "roundtrip": "round trip (2)",
               "fanout": "fan-out (3)", "memory": "memory (4)"}


def goals(d, p, names, add):
    """The goals of issue 13, one row each: every round's value, how many
    rounds met it, and whether that is enough. Nothing when none of their
    workloads ran."""
    n = p["rounds"]
    only = [g for g in p["only"].split(",") if g]
    ran = [g for g in GOAL_GROUPS if not only or g in only]
    if not ran:
        return
    need = max(n - 1, n // 2 + 1)  # all rounds but one, and a majority
    rows = []

    def row(goal, cells, every=False, na=None):
        """cells: (text, met) a round."""
        if na:
            rows.append(f"| {goal} | n/a | n/a | n/a ({na}) |")
            return
        k = sum(1 for _, met in cells if met)
        status = "met" if k >= (n if every else need) else "not met"
        rows.append(f"| {goal} | {' '.join(t for t, _ in cells)} | {k} of {n} | {status} |")

    def cell(v, ok, digits=2, dropped_=0):
        text = "n/a" if v is None else f"{v:.{digits}f}"
        if dropped_:
            text += f" (dropped {dropped_:,})"
        return text, v is not None and ok(v) and not dropped_

    if "stream" in ran:
        s = {k: rounds(d, f"stream-{k}", n) for k in ("floor", "tokio", "blocking", "python")}
        py_na = None if any(num(r, "events_per_s") for r in s["python"]) else (why_na(s["python"][0]) or "no result")
        for base, thr, what in (("floor", 0.6, "stream throughput vs floor"),
                                ("python", 15, "stream throughput vs Python SDK 0.5.0")):
            for k in ("tokio", "blocking"):
                cells = [cell(v, lambda v: v >= thr, dropped_=num(r, "dropped") or 0)
                         for v, r in zip(per_round(s[k], s[base], "events_per_s"), s[k])]
                row(f"{what}, {names[k]}: ≥ {thr}x", cells, na=py_na if base == "python" else None)
    if "roundtrip" in ran:
        rt = {k: rounds(d, f"roundtrip-{k}", n) for k in ("echo", "tokio", "blocking")}
        for key, thr in (("p50_us", 1.3), ("p99_us", 1.6)):
            for k in ("tokio", "blocking"):
                cells = [cell(v, lambda v: v <= thr) for v in per_round(rt[k], rt["echo"], key)]
                row(f"round-trip {key[:3]} vs raw echo, {names[k]}: ≤ {thr}x", cells)
    if "fanout" in ran:
        for k in ("tokio", "blocking"):
            cells = [cell(num(r, "fairness"), lambda v: v >= 0.9) for r in rounds(d, f"fanout-{k}", n)]
            row(f"fan-out fairness ({p['fanout'][0]:,} sessions), {names[k]}: ≥ 0.9 in every round", cells, every=True)
    if "memory" in ran:
        m = p["memory_events"]
        events = f"{m // 1000000}M" if m % 1000000 == 0 else f"{m:,}"
        for k in ("tokio", "blocking"):
            cells = [cell(num(r, "peak_rss_mib"), lambda v: v <= 20, digits=1) for r in rounds(d, f"memory-{k}", n)]
            row(f"peak RSS, {events} events to a 10x slower reader, {names[k]}: ≤ 20 MiB", cells)

    add("### Goals of issue 13\n")
    add(f"| goal | {'value in each round, 1 to ' + str(n) if n > 1 else 'value in the round'} | rounds that met it | status |")
    add("| --- | --- | ---: | --- |")
    lines = rows
    for line in lines:
        add(line)
    rule = (f"at least {need} of the {n} rounds met it (in general: all rounds but at most one, and more than half)"
            if n > 1 else "its one round met it")
    add(f"\nStatus: a goal is `met` when {rule}, fan-out fairness only when every round met it, a stream "
        f"round in which the transport dropped events (`Lagged`) does not meet its goal whatever its rate, "
        f"and a goal met only in the best round is not met.\n")
    notes = [f"{n} interleaved round{'s' if n > 1 else ''}: round i ran every implementation of a workload "
             f"once, and each ratio is that of one round; load average (1, 5, 15 min) {loads(d, 'rounds')}; "
             f"measured {sh('date -u +%Y-%m-%dT%H:%MZ')}."]
    if any(p[k] != DEFAULTS[k] for k in ENV if k != "rounds"):
        notes.append(f"Sizes other than the issue's (`{command(p)}`): a quick run; the goals are stated for "
                     f"the default sizes.")
    if len(ran) < len(GOAL_GROUPS):
        notes.append(f"Not run this time (`BENCH_ONLY={p['only']}`): the goals of "
                     f"{', '.join(v for g, v in GOAL_GROUPS.items() if g not in ran)}; their subsections below "
                     f"are from an earlier run.")
    add(" ".join(notes) + "\n")


def workloads(d, p, names, add):
    """Tables 1-4: every row the median over rounds and its range; every
    ratio the median of the per-round ratios."""
    n = p["rounds"]
    how = f"\nMedian over {n} round{'s' if n > 1 else ''} and its range (min-max)."
    ratios = how.rstrip(".") + f"; a ratio is the median of the {n} ratio{'s' if n > 1 else ''}, each measured within one round."
    p09 = python09_fake(d)

    # 1. stream
    s = {k: rounds(d, f"stream-{k}", n) for k in ("floor", "tokio", "blocking", "python", "python09")}
    add(f"### 1. Stream throughput: one turn of {p['events']:,} `text_delta` events\n")
    add("| implementation | events/s, median | range | vs floor | vs Python SDK | dropped (`Lagged`), median (max) |")
    add("| --- | ---: | ---: | ---: | ---: | ---: |")
    rows = [(k, names[k]) for k in ("floor", "tokio", "blocking", "python")]
    if p09 is not None:
        rows.append(("python09", p09))
    for k, name in rows:
        rs = s[k]
        if k == "python09" and "(n/a" in name:
            add(f"| {name} | n/a | n/a | n/a | n/a | n/a |")
            continue
        name, ok = label(name, rs, "events_per_s")
        if not ok:
            add(f"| {name} | n/a | n/a | n/a | n/a | n/a |")
            continue
        eps = [num(r, "events_per_s") for r in rs]
        add(f"| {name} | {fmt(median(eps))} | {span(eps)} "
            f"| {fmt(median(per_round(rs, s['floor'], 'events_per_s')), 'x')} "
            f"| {fmt(median(per_round(rs, s['python'], 'events_per_s')), 'x')} | {dropped(rs)} |")
    add(ratios)

    # 2. round trip
    add(f"\n### 2. Request round trip: {p['requests']:,} sequential `session/list`\n")
    add("| implementation | p50 µs, median | range | p99 µs, median | range | p50 vs echo | p99 vs echo |")
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    keys = ("echo", "echo-threads", "echo-threads4", "floor", "floor-threads4", "tokio", "tokio-task",
            "blocking", "python", "python09")
    rt = {k: rounds(d, f"roundtrip-{k}", n) for k in keys}
    rnames = {"echo": "floor: a line through `cat` and back",
              "echo-threads": "the same echo through a transport's thread chain (6 handoffs, no other work)",
              "echo-threads4": "the same echo with 4 handoffs (caller -> writer, reader -> caller; no driver)",
              "floor": "raw JSON lines to the fake, no SDK",
              "floor-threads4": "raw JSON lines to the fake through the same 4 handoffs (no SDK work)",
              "tokio": names["tokio"] + " (called from `block_on`)",
              "tokio-task": names["tokio"] + " (called from a spawned task)",
              "blocking": names["blocking"], "python": names["python"], "python09": p09}
    for k in keys:
        if k == "python09" and (p09 is None or "(n/a" in p09):
            if p09 is not None:
                add(f"| {p09} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        rs = rt[k]
        name, ok = label(rnames[k], rs, "p50_us")
        if not ok:
            add(f"| {name} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        p50, p99 = [num(r, "p50_us") for r in rs], [num(r, "p99_us") for r in rs]
        add(f"| {name} | {fmt(median(p50))} | {span(p50)} | {fmt(median(p99))} | {span(p99)} "
            f"| {fmt(median(per_round(rs, rt['echo'], 'p50_us')), 'x')} "
            f"| {fmt(median(per_round(rs, rt['echo'], 'p99_us')), 'x')} |")
    add(ratios)

    # 3. fan-out
    sessions, per = p["fanout"]
    add(f"\n### 3. Fan-out: {sessions:,} sessions streaming {per:,} events each, at once, on one client\n")
    add("| implementation | total events/s, median | range | fairness (slowest / fastest), median | fairness range "
        "| dropped (`Lagged`), median (max) |")
    add("| --- | ---: | ---: | ---: | ---: | ---: |")
    for k, name in (("floor", "the fake's own delivery, read raw"), ("tokio", names["tokio"]),
                    ("blocking", names["blocking"])):
        rs = rounds(d, f"fanout-{k}", n)
        name, ok = label(name, rs, "events_per_s")
        if not ok:
            add(f"| {name} | n/a | n/a | n/a | n/a | n/a |")
            continue
        eps, fair = [num(r, "events_per_s") for r in rs], [num(r, "fairness") for r in rs]
        add(f"| {name} | {fmt(median(eps))} | {span(eps)} | {fmt(median(fair))} | {span(fair)} | {dropped(rs)} |")
    add(how)

    # 4. memory
    add(f"\n### 4. Memory: {p['memory_events']:,} events to a consumer reading at a tenth of the arrival rate\n")
    add("| implementation | peak RSS MiB, median | range | baseline MiB, median | delivered, median "
        "| dropped (reported as `Lagged`), median (max) |")
    add("| --- | ---: | ---: | ---: | ---: | ---: |")
    for k in ("tokio", "blocking"):
        rs = rounds(d, f"memory-{k}", n)
        name, ok = label(names[k], rs, "peak_rss_mib")
        if not ok:
            add(f"| {name} | n/a | n/a | n/a | n/a | n/a |")
            continue
        peak = [num(r, "peak_rss_mib") for r in rs]
        add(f"| {name} | {fmt(median(peak))} | {span(peak)} | {fmt(median(num(r, 'baseline_rss_mib') for r in rs))} "
            f"| {fmt(median(num(r, 'delivered') for r in rs))} | {dropped(rs)} |")
    add(how.rstrip(".") + "; each round's reader is paced by that round's stream rate of the same transport "
        "(20 ms a pause per 1,000 events when the stream did not run).")


GROUPS = {"stream": "1", "roundtrip": "2", "fanout": "3", "memory": "4", "footprint": "5",
          "coldstart": "6", "python09": "7"}


def merge(old, new, keep, fix=lambda num, text: text):
    """Subsections ("### N. ...", and "### Goals of issue 13" as number 0)
    of `new` replace those of `old` whose number is not in `keep`; the rest
    of `old` stays as it was, passed through `fix(number, text)`."""
    def split(text):
        head, *subs = re.split(r"^(?=### (?:\d+\. |Goals of issue 13\b))", text, flags=re.M)
        return head, {(re.match(r"### (\d+)\.", x) or [None, "0"])[1]: x for x in subs}
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

    p = params(d)
    names = {"floor": "floor: read pipe, split lines, `IgnoredAny`", "tokio": "meerkat-transport-tokio",
             "blocking": "meerkat-transport-blocking", "python": "Python meerkat-sdk 0.5.0"}
    goals(d, p, names, add)
    workloads(d, p, names, add)

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

    section = (f"## Transports\n\nCommand: `{command(p)}` (release build; every workload against the same "
               f"`fake-rkat-rpc`, scenario `burst N 8`; workloads 1-4 run in {p['rounds']} interleaved rounds, "
               f"each round running every implementation of a workload once so that a transport and its floor "
               f"share that round's load; tables 1-4 give the median over rounds and its range, every ratio the "
               f"median of the per-round ratios, and the goals table how many rounds met each goal; workloads 6 "
               f"and 7 run against the real rkat-rpc servers in the cache and the scripted LLM, see their notes).\n"
               f"Machine: {machine()}.\n\n{table}\n")
    text = md.read_text() if md.exists() else "# Benchmarks\n"
    # Replace the generated part only: from "## Transports" up to the hand-written
    # "### What bounds these numbers" (kept), or the next "## ", or the end.
    m = re.search(r"^## Transports\n.*?(?=^### What bounds these numbers|^## |\Z)", text, flags=re.S | re.M)
    only = [g for g in p["only"].split(",") if g]
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
            # As many cells as the 0.5.0 row has (the kept table may be of
            # an older layout).
            sub = re.sub(r"^\| Python meerkat-sdk 0\.9.*\n", "", sub, flags=re.M)
            return re.sub(r"^(\| Python meerkat-sdk 0\.5\.0 \|.*\n)",
                          lambda mm: mm.group(1) + f"| {p09} |" + " n/a |" * (mm.group(1).count("|") - 2) + "\n",
                          sub, count=1, flags=re.M)

        kept = merge(m.group(0), section, keep, fix)
        # The header's machine line is the last full run's; the partial
        # run adds its own line under it.
        # Its command names the groups and any non-default round count or size.
        subs = "subsections " + ", ".join(sorted(GROUPS[g] for g in only if g in GROUPS))
        if any(g in GOAL_GROUPS for g in only):
            subs = f"the goals of issue 13 of these groups and {subs}"
        note = f"Partial run `{command(p)}` ({subs}): {machine()}."
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
