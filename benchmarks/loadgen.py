"""A small HTTP load generator (stdlib asyncio, HTTP/1.1 keep-alive), run as its own process.

    python benchmarks/loadgen.py --url http://127.0.0.1:8080/score --bodies data/serve.jsonl \\
        --requests 2000 --concurrency 32 [--warmup 32]

``concurrency`` connections each send one request at a time (a closed loop), cycling through
the JSON bodies; ``warmup`` requests go first and are not counted. Prints one JSON object:
requests, ok, errors, seconds, rps (successful requests per second), p50_ms, p90_ms, p99_ms,
max_ms, and an example error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(head + body)
                await self.writer.drain()
                return await self._response()
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _response(self) -> tuple[int, bytes]:
        status_line = await self.reader.readuntil(b"\r\n")
        version, status = status_line.split(b" ", 2)[:2]
        headers = {}
        while True:
            line = await self.reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        elif "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or version == b"HTTP/1.0" and \
                headers.get("connection", "").lower() != "keep-alive":
            self.close()
        return int(status), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run(url: str, bodies: list[bytes], total: int, concurrency: int, warmup: int) -> dict:
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"

    def head(body: bytes) -> bytes:
        return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()

    async def phase(indices: range) -> tuple[list[float], list[str], float]:
        latencies: list[float] = []
        errors: list[str] = []
        pending = iter(indices)

        async def worker() -> None:
            conn = Connection(host, port)
            for i in pending:  # shared iterator: each connection takes the next request when free
                body = bodies[i % len(bodies)]
                sent = time.perf_counter()
                try:
                    status, answer = await conn.request(head(body), body)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    errors.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - sent)
                else:
                    errors.append(f"HTTP {status}: {answer[:300].decode('utf-8', 'replace')}")
            conn.close()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(min(concurrency, len(indices)))))
        return latencies, errors, time.perf_counter() - began

    if warmup:
        await phase(range(warmup))
    latencies, errors, seconds = await phase(range(warmup, warmup + total))
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else None

    return {"requests": total, "ok": len(latencies), "errors": len(errors), "seconds": round(seconds, 3),
            "rps": round(len(latencies) / seconds, 2) if seconds else None, "p50_ms": pct(0.50),
            "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "error_example": errors[0] if errors else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", required=True, help="JSON Lines file: one request body per line")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=32)
    args = parser.parse_args()
    with open(args.bodies, encoding="utf-8") as f:
        bodies = [line.strip().encode() for line in f if line.strip()]
    print(json.dumps(asyncio.run(run(args.url, bodies, args.requests, args.concurrency, args.warmup))))


if __name__ == "__main__":
    main()
