#!/usr/bin/env python3
"""Sockets that never become requests, against a running gateway, while live streams flow.

Opens IDLE sockets that send nothing, TRICKLE sockets that send a stream request head one
byte per second and never finish it, and POSTS sockets that send a POST head and then one
byte of its body per second; meanwhile LIVE streams watch one job each and PUBLISHER events
per second are published through the gateway's publish API, each carrying its send time.
Prints, for every kind of attacking socket, how long the gateway took to close them (max and
how many outlived their deadline + 2 s), the live streams' delivery latency (p50, p99) and
losses, and the gateway's open descriptors before, during and after.

    hostile_sockets.py --url http://127.0.0.1:PORT --pid PID [--publish-url URL]
        [--idle 2000 --trickle 2000
        --posts 500 --live 200 --rate 100 --seconds 20 --header-timeout 10 --request-timeout 10]

Loopback only; bounded counts and duration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from urllib.parse import urlparse


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_closed(reader: asyncio.StreamReader, started: float, limit: float) -> float | None:
    """Seconds from `started` until the server closed the socket, or None past `limit`."""
    try:
        while True:
            remaining = limit - (time.monotonic() - started)
            if remaining <= 0:
                return None
            data = await asyncio.wait_for(reader.read(4096), remaining)
            if not data:
                return time.monotonic() - started
    except (ConnectionError, OSError):
        return time.monotonic() - started
    except asyncio.TimeoutError:
        return None


async def attacker(host: str, port: int, kind: str, limit: float) -> float | None:
    reader, writer = await asyncio.open_connection(host, port)
    started = time.monotonic()
    head = {
        "idle": b"",
        "trickle": b"GET /api/v1/sse/connect?jobs=x HTTP/1.1\r\nHost: x\r\nX-Pad: ",
        "post": b"POST /api/v1/queue/add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n",
    }[kind]

    async def dribble() -> None:
        # A trickling head: its bytes one a second, never its end. A stalled body: the whole
        # head at once, then one byte of the body a second.
        try:
            if kind == "post":
                writer.write(head)
                head_rest = b""
            else:
                head_rest = head
            while True:
                if head_rest:
                    writer.write(head_rest[:1])
                    head_rest = head_rest[1:]
                else:
                    writer.write(b"a")
                await writer.drain()
                await asyncio.sleep(1)
        except (ConnectionError, OSError):
            return

    task = None if kind == "idle" else asyncio.create_task(dribble())
    closed = await wait_closed(reader, started, limit)
    if task:
        task.cancel()
    writer.close()
    return closed


class Dechunker:
    """The body of a chunked HTTP/1.1 response, as its bytes arrive."""

    def __init__(self) -> None:
        self.raw = b""
        self.left = 0  # bytes of the current chunk still to come, then its CRLF

    def feed(self, data: bytes) -> bytes:
        self.raw += data
        out = b""
        while True:
            if self.left > 0:
                take = self.raw[: self.left]
                out += take
                self.raw = self.raw[len(take):]
                self.left -= len(take)
                if self.left > 0:
                    return out
                self.left = -2  # the CRLF after the chunk
            if self.left == -2:
                if len(self.raw) < 2:
                    return out
                self.raw = self.raw[2:]
                self.left = 0
            line_end = self.raw.find(b"\r\n")
            if line_end < 0:
                return out
            size = int(self.raw[:line_end].split(b";")[0], 16)
            self.raw = self.raw[line_end + 2:]
            if size == 0:
                return out
            self.left = size


async def live_stream(host: str, port: int, job: str, latencies: list, seen: dict, stop: asyncio.Event) -> None:
    """One EventSource-like stream over HTTP/1.1 (chunked, as browsers get it)."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/v1/sse/connect?jobs={job} HTTP/1.1\r\nHost: x\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    chunked = b"chunked" in head.lower()
    body = Dechunker() if chunked else None
    buffer = b""
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 0.5)
        except asyncio.TimeoutError:
            continue
        if not chunk:
            break
        buffer += body.feed(chunk) if body else chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            for line in frame.split(b"\n"):
                if line.startswith(b"data:") and b'"sent"' in line:
                    event = json.loads(line[5:].strip())
                    latencies.append(time.time() * 1000 - event["sent"])
                    seen.setdefault(job, set()).add(event["seq"])
    writer.close()


async def publisher(host: str, port: int, jobs: list, rate: float, seconds: float, sent: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    interval = 1.0 / rate
    seq = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seq += 1
        job = jobs[seq % len(jobs)]
        body = json.dumps({"type": "job_update", "jobId": job, "status": "in_progress",
                           "progress": 50, "seq": seq, "sent": time.time() * 1000}).encode()
        writer.write(f"POST /api/v1/publish/job/{job} HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
        await reader.readexactly(length)
        sent.setdefault(job, set()).add(seq)
        await asyncio.sleep(interval)
    writer.close()


def quantile(values: list, q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--publish-url", help="where events are published (default: --url)")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--trickle", type=int, default=2000)
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--live", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--header-timeout", type=float, default=10.0)
    parser.add_argument("--request-timeout", type=float, default=10.0)
    args = parser.parse_args()
    url = urlparse(args.url)
    host, port = url.hostname, url.port
    assert host in ("127.0.0.1", "localhost"), "loopback only"
    assert args.idle + args.trickle + args.posts + args.live <= 20000, "bounded counts"
    assert args.seconds <= 120, "bounded duration"

    baseline = fds(args.pid)
    stop = asyncio.Event()
    latencies: list = []
    seen: dict = {}
    sent: dict = {}
    jobs = [f"live-{os.getpid()}-{n}" for n in range(args.live)]
    streams = [asyncio.create_task(live_stream(host, port, job, latencies, seen, stop)) for job in jobs]
    await asyncio.sleep(1)
    with_streams = fds(args.pid)

    kinds = [("idle", args.idle, args.header_timeout), ("trickle", args.trickle, args.header_timeout),
             ("post", args.posts, args.request_timeout)]
    attacks = {kind: [asyncio.create_task(attacker(host, port, kind, limit + 2 + 30))
                      for _ in range(count)] for kind, count, limit in kinds}
    publish_to = urlparse(args.publish_url or args.url)
    assert publish_to.hostname in ("127.0.0.1", "localhost"), "loopback only"
    publishing = asyncio.create_task(
        publisher(publish_to.hostname, publish_to.port, jobs, args.rate, args.seconds, sent))
    await asyncio.sleep(2)
    during = fds(args.pid)
    results = {kind: await asyncio.gather(*tasks) for kind, tasks in attacks.items()}
    await publishing
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*streams, return_exceptions=True)
    await asyncio.sleep(1)
    after = fds(args.pid)

    for kind, count, limit in kinds:
        closed = [r for r in results[kind] if r is not None]
        late = sum(1 for r in results[kind] if r is None or r > limit + 2)
        print(f"{kind:8} {count:5} sockets: closed {len(closed)}, max {max(closed, default=float('nan')):.1f} s "
              f"(deadline {limit:.0f} s), {late} later than deadline + 2 s")
    lost = sum(len(sent.get(job, set()) - seen.get(job, set())) for job in jobs)
    total = sum(len(v) for v in sent.values())
    print(f"live     {args.live:5} streams: {total} events published ({total / args.seconds:.0f}/s), lost {lost}; "
          f"latency p50 {quantile(latencies, 0.5):.1f} ms p99 {quantile(latencies, 0.99):.1f} ms")
    print(f"gateway descriptors: {baseline} before, {with_streams} with the live streams, "
          f"{during} during the attack, {after} after")


if __name__ == "__main__":
    asyncio.run(main())
