"""Drives the official Python SDK (meerkat-sdk 0.5.0, or 0.9.x in its own
venv) for the side-by-side benchmarks. Prints one JSON object.

    python py_bench.py stream <rkat_path> <events>
    python py_bench.py roundtrip <rkat_path> <requests>
    python py_bench.py probe <rkat_path>
    python py_bench.py coldstart <rkat_path> <spec>
    python py_bench.py session <rkat_path> <spec> <turns> <requests>

stream and roundtrip run against the fake rkat-rpc; probe only connects
(and reports the SDK's refusal, if any, as {"na": ...}); coldstart and
session run against a real rkat-rpc that meerkat-bench set up (spec: JSON
with realm_id, state_root, context_root, user_config_root and model; the
environment comes from meerkat-bench) and mirror its workloads of the same
names in bench/src/real.rs.

The 0.5.0 SDK misreads the session/event envelope and yields UnknownEvent for
every streamed event; every yielded event is counted all the same. The fake's
scenario (FAKE_RKAT_SCENARIO="burst N 8") comes from the environment.
"""
import asyncio
import json
import sys
import time

from meerkat import MeerkatClient


async def stream(path: str, n: int) -> dict:
    async with MeerkatClient(rkat_path=path) as client:
        session = await client.create_session("warm up")
        # Timed like the Rust rows: from the third event (the first delta;
        # this SDK yields every event as unknown) to the end.
        seen, count, t0 = 0, 0, None
        async with session.stream("go") as events:
            async for _ in events:
                seen += 1
                if seen == 3:
                    t0 = time.perf_counter()
                if t0 is not None:
                    count += 1
        dt = time.perf_counter() - t0
        return {"events": count, "seconds": dt, "events_per_s": count / dt}


async def roundtrip(path: str, n: int) -> dict:
    async with MeerkatClient(rkat_path=path) as client:
        lat = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            await client.list_sessions()
            lat.append(time.perf_counter_ns() - t0)
        lat.sort()
        return {
            "requests": n,
            "p50_us": lat[len(lat) // 2] / 1000,
            "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))] / 1000,
        }


def sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("meerkat-sdk")
    except Exception:  # noqa: BLE001 - only for the report
        return "?"


async def probe(path: str) -> dict:
    client = MeerkatClient(rkat_path=path)
    try:
        await client.connect()
    except Exception as e:  # noqa: BLE001 - the refusal is the measurement
        code = getattr(e, "code", type(e).__name__)
        return {"sdk": sdk_version(), "na": f"{code}: {e}"}
    finally:
        await client.close()
    return {"sdk": sdk_version(), "connected": True}


def connect_kwargs(spec: dict) -> dict:
    return {k: str(spec[k]) for k in ("realm_id", "state_root", "context_root", "user_config_root")}


def is_text_delta(event) -> bool:
    # 0.9.x yields TextDelta; 0.5.0 misreads the 0.5.x envelope and yields
    # every event as UnknownEvent, whose raw dict still says what it is.
    if type(event).__name__ == "TextDelta":
        return True
    # (the envelope, with the event under "payload").
    data = getattr(event, "data", None) or {}
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else data
    return getattr(event, "type", "") == "text_delta" or payload.get("type") == "text_delta"


COLD_PROMPT = "Hello [[chunks 4]]"
TURN_PROMPT = "Tell me something short [[chunks 12]]"


async def coldstart(path: str, spec: dict) -> dict:
    # The same points as the Rust rows: from the call to connect() to its
    # return (initialize and capabilities/get answered), and to the first
    # text_delta of the first turn, streamed from session/create.
    client = MeerkatClient(rkat_path=path)
    t0 = time.perf_counter()
    await client.connect(**connect_kwargs(spec))
    handshake = time.perf_counter() - t0
    first = None
    try:
        async with client.create_session_streaming(COLD_PROMPT, model=spec["model"]) as events:
            async for event in events:
                if first is None and is_text_delta(event):
                    first = time.perf_counter() - t0
    finally:
        await client.close()
    if first is None:
        raise SystemExit("no text_delta in the first turn")
    return {"sdk": sdk_version(), "handshake_ms": handshake * 1e3, "first_delta_ms": first * 1e3}


async def session_bench(path: str, spec: dict, turns: int, requests: int) -> dict:
    client = MeerkatClient(rkat_path=path)
    await client.connect(**connect_kwargs(spec))
    try:
        session = await client.create_session("warm up", model=spec["model"])
        first, total, deltas = [], [], 0
        for _ in range(turns):
            t0 = time.perf_counter()
            got = None
            async with session.stream(TURN_PROMPT) as events:
                async for event in events:
                    if is_text_delta(event):
                        deltas += 1
                        if got is None:
                            got = time.perf_counter() - t0
            total.append((time.perf_counter() - t0) * 1e3)
            if got is None:
                raise SystemExit("no text_delta in a streamed turn")
            first.append(got * 1e3)
        lat = []
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            await client.list_sessions()
            lat.append((time.perf_counter_ns() - t0) / 1000)
    finally:
        await client.close()
    return {"sdk": sdk_version(), "first_delta_ms": first, "turn_ms": total, "deltas": deltas, "list_us": lat}


def main() -> None:
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "probe":
        result = probe(path)
    elif mode == "coldstart":
        result = coldstart(path, json.loads(sys.argv[3]))
    elif mode == "session":
        result = session_bench(path, json.loads(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        result = {"stream": stream, "roundtrip": roundtrip}[mode](path, int(sys.argv[3]))
    print(json.dumps(asyncio.run(result)))


if __name__ == "__main__":
    main()
