"""Latency of Spotify link → reply through the whole service, against the fake Spotify on localhost.

    .venv/bin/python benchmarks/bench_service.py [--single 100] [--concurrent 200]

Prints p50/p95 of single requests (target: ≤ 80 / 200 ms), then sends N messages at once, with
the default bounds (MAX_QUEUE=32, MAX_CONCURRENT_FETCHES=16: the overflow must get "busy" replies)
and with bounds that hold them all, and counts replies by kind: every message must get exactly one reply.
Uses the real model and a real store in a temporary directory; covers come from ../shared when present.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: make bot, models and tests importable

import aiohttp  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from bot.replies import Incoming, Reply  # noqa: E402
from bot.service import Service, ServiceConfig  # noqa: E402
from bot.spotify import SpotifyClient  # noqa: E402
from feedback.store import Store, default_path  # noqa: E402
from models.predictor import Predictor  # noqa: E402
from tests.bot.fake_spotify import (  # noqa: E402
    ALBUM_ID,
    PLAYLIST_ID,
    SECOND_ALBUM_ID,
    TRACK_ID,
    FakeState,
    create_app,
)

LINKS = [
    f"https://open.spotify.com/album/{ALBUM_ID}",
    f"https://open.spotify.com/track/{TRACK_ID}",
    f"https://open.spotify.com/playlist/{PLAYLIST_ID}",
    f"https://open.spotify.com/album/{SECOND_ALBUM_ID}",
]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def message(i: int) -> Incoming:
    # Everyone different, so rate limits never interfere (they are off anyway).
    return Incoming("discord", f"check this {LINKS[i % len(LINKS)]}", author_id=f"u{i}", channel_id=f"c{i}")


async def timed(service: Service, incoming: Incoming) -> tuple[float, list[Reply]]:
    start = time.perf_counter()
    replies = await service.handle_message(incoming)
    return (time.perf_counter() - start) * 1000, replies


async def single(service: Service, n: int) -> None:
    for i in range(5):  # warm up: first lookups fill the Spotify cache, first batches warm onnxruntime
        await service.handle_message(message(i))
    results = [await timed(service, message(i)) for i in range(n)]
    latencies = [ms for ms, _ in results]
    kinds = Counter(r.kind for _, replies in results for r in replies)
    print(
        f"single requests (n={n}): p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms, "
        f"max {max(latencies):.0f} ms   (target ≤ 80 / 200 ms)   replies {dict(kinds)}"
    )


async def concurrent(service: Service, n: int, label: str) -> None:
    start = time.perf_counter()
    results = await asyncio.gather(*(timed(service, message(i)) for i in range(n)))
    wall = time.perf_counter() - start
    kinds = Counter(r.kind for _, replies in results for r in replies)
    answered = sum(len(replies) for _, replies in results)
    lost = sum(1 for _, replies in results if len(replies) != 1)
    latencies = [ms for ms, _ in results]
    print(f"{n} concurrent, {label}: answered {answered}/{n}, lost {lost}, by kind {dict(kinds)}")
    print(
        f"    all replies p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms; "
        + "; ".join(f"{kind} p95 {percentile(ms, 95):.0f} ms" for kind, ms in by_kind(results).items())
        + f"; wall {wall:.2f} s ({kinds['prediction'] / wall:.0f} predictions/s)"
    )


def by_kind(results: Sequence[tuple[float, list[Reply]]]) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {}
    for ms, replies in results:
        for reply in replies:
            latencies.setdefault(reply.kind, []).append(ms)
    return latencies


def make_service(
    predictor: Predictor, store: Store, session: aiohttp.ClientSession, base: str, max_queue: int,
    max_fetches: int,
) -> Service:
    spotify = SpotifyClient(session, oembed_base=base)
    config = ServiceConfig(user_rate=0, channel_rate=0, max_queue=max_queue, max_concurrent_fetches=max_fetches,
                           allow_private=True)
    return Service(predictor, store, config, session, spotify)


async def main(n_single: int, n_concurrent: int) -> None:
    predictor = await asyncio.to_thread(Predictor.load)
    server = TestServer(create_app(FakeState()), host="127.0.0.1")
    await server.start_server()
    base = f"http://127.0.0.1:{server.port}"
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(default_path(tmp))
        async with aiohttp.ClientSession() as session:
            defaults = ServiceConfig()
            print(
                f"model {predictor.version}; {defaults.max_concurrent_predictions} inference workers; "
                f"fake Spotify (oEmbed) at {base}"
            )
            service = make_service(predictor, store, session, base, defaults.max_queue, defaults.max_concurrent_fetches)
            await single(service, n_single)
            await concurrent(service, n_concurrent, f"MAX_QUEUE={defaults.max_queue}, "
                             f"MAX_CONCURRENT_FETCHES={defaults.max_concurrent_fetches} (defaults)")
            await service.close()
            # Both bounds: with the default fetch bound the overflow is "busy" before it reaches the queue.
            roomy = make_service(predictor, store, session, base, n_concurrent, n_concurrent)
            await concurrent(roomy, n_concurrent, f"MAX_QUEUE={n_concurrent}, MAX_CONCURRENT_FETCHES={n_concurrent}")
            await roomy.close()
        await store.close()
    await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=100, help="sequential requests to time")
    parser.add_argument("--concurrent", type=int, default=200, help="messages sent at once")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main(args.single, args.concurrent))
