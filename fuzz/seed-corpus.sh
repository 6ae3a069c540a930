#!/bin/sh
# Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/ (git-ignored)
# from the recorded rkat-rpc transcripts: every server line (`recv` messages
# re-serialised, `recv-raw` log lines verbatim), one seed per transcript step;
# for event_parser, the params of every event notification and their payloads
# (transcripts and tests/fixtures/examples-0.5.jsonl); for conn_routing, a
# header, a few bytes of client ops (derived from the lines, so the seed
# is deterministic) and the transcript step's server lines; for route_scan,
# every `session/event` line, compact with its keys in the recorded order.
#
# Usage: fuzz/seed-corpus.sh [fixtures-dir]
# Default: tests/fixtures of the repository, else /work/shared/fixtures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-}
if [ -z "$src" ]; then
    for d in "$here/../tests/fixtures" /work/main/tests/fixtures /work/shared/fixtures; do
        if [ -d "$d" ]; then src=$d; break; fi
    done
fi
[ -n "$src" ] && [ -d "$src" ] || { echo "no fixtures directory found" >&2; exit 1; }

python3 - "$src" "$here/corpus" <<'PY'
import json, pathlib, sys, hashlib

src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for target in ("frame_decoder", "client_ops", "event_parser", "conn_routing", "route_scan"):
    (out / target).mkdir(parents=True, exist_ok=True)

def write(target, data):
    name = hashlib.sha1(data).hexdigest()
    (out / target / name).write_bytes(data)

# event_parser: the `params` of every event notification, and the payload of
# its event (bare or attributed), compact JSON with keys as recorded.
EVENT_METHODS = {
    "session/event", "session/stream_event", "session/stream_end",
    "mob/stream_event", "mob/stream_end",
}
seen = set()
def seed_event_parser(msg):
    global events
    params = msg.get("params")
    if msg.get("method") not in EVENT_METHODS or params is None:
        return
    seeds = [params]
    event = params.get("event") if isinstance(params, dict) else None
    if isinstance(event, dict):
        envelope = event.get("envelope", event)
        if isinstance(envelope, dict) and "payload" in envelope:
            seeds.append(envelope["payload"])
    for value in seeds:
        data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        if data not in seen:
            seen.add(data)
            write("event_parser", data)
            events += 1

count = events = 0
seen_lines = set()
for path in sorted(src.rglob("*.jsonl")):
    chunk = []
    def flush():
        global count
        if chunk:
            stream = b"".join(chunk)
            # frame_decoder: 2 bytes of limit (512), 1 byte chunk size, the stream.
            write("frame_decoder", bytes([0, 2, 7]) + stream[:65536])
            write("client_ops", stream[:4096])
            # conn_routing: bound index, reset offered (bit 0) and direct
            # writes (bit 1, the pipe's room above), stream budget, end;
            # u16 length of the ops bytes; the ops; the server lines.
            digest = hashlib.sha256(stream).digest()
            for variant in range(2):
                flags = (1 - variant) | ((count % 2) << 1) | (((count // 2) % 5) << 2)
                header = bytes([count % 4, flags, 3, (count + variant) % 3])
                ops = digest[variant * 16:(variant + 1) * 16]
                write("conn_routing", header + len(ops).to_bytes(2, "little") + ops + stream[:16384])
            count += 1
        chunk.clear()
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        d = rec.get("dir")
        if d == "step":
            flush()
        elif d == "recv":
            raw = json.dumps(rec["msg"], separators=(",", ":"), ensure_ascii=False).encode()
            chunk.append(raw + b"\n")
            seed_event_parser(rec["msg"])
            # route_scan: every event line, compact with its keys in the
            # recorded (wire) order, as the servers write it.
            if rec["msg"].get("method") == "session/event" and raw not in seen_lines:
                seen_lines.add(raw)
                write("route_scan", raw)
        elif d == "recv-raw":
            chunk.append(rec["line"].encode() + b"\n")
        elif "message" in rec:
            # examples-0.5.jsonl: one documented message a line, under `_case`.
            seed_event_parser(rec["message"])
    flush()
print(f"seeded {count} frame_decoder inputs, {events} event_parser inputs and "
      f"{len(seen_lines)} route_scan lines from {src} into {out}")
PY
