"""Drives the official Python SDK (meerkat-sdk 0.5.0) against the fake
rkat-rpc for the side-by-side benchmarks. Prints one JSON object.

    python py_bench.py stream <rkat_path> <events>
    python py_bench.py roundtrip <rkat_path> <requests>

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


def main() -> None:
    mode, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fn = {"stream": stream, "roundtrip": roundtrip}[mode]
    print(json.dumps(asyncio.run(fn(path, n))))


if __name__ == "__main__":
    main()
