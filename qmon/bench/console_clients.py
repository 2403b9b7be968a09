"""Many officers' consoles following the hub's live alert feed, in a process of their own (`qmon bench
console`): `python -m qmon.bench.console_clients HUB_URL TOKEN CLIENTS SECONDS`.

Prints `{"ready": N}` once every client's stream is open (the hub's first message arrived), then, after
SECONDS or on SIGINT, one JSON line: for each client, {device id: arrival time} of every alert opened.

Each client is a bare HTTP/1.1 connection on asyncio streams that stamps every SSE `data:` line with
time.time() as it arrives and parses the JSON only after the run: 200 clients share one interpreter, and a
full SSE client library's per-message work (a few hundred microseconds) would queue the later clients'
stamps behind the earlier ones' parsing and be measured as the hub's fan-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from urllib.parse import urlsplit


async def _follow(
    host: str, port: int, token: str, lines: list[tuple[float, bytes]], connected: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = (
        f"GET /api/v1/alerts/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"
    )
    writer.write(request.encode())
    await writer.drain()
    try:
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        chunked = False
        while (header := await reader.readline()) not in (b"\r\n", b""):
            if header.lower().startswith(b"transfer-encoding:") and b"chunked" in header.lower():
                chunked = True
        pending = b""
        while True:
            if chunked:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    return
                data = await reader.readexactly(size + 2)
                data = data[:-2]
            else:
                data = await reader.read(65536)
                if not data:
                    return
            now = time.time()
            connected.set()
            pending += data
            *complete, pending = pending.split(b"\n")
            lines.extend((now, line) for line in complete if line.startswith(b"data:"))
    finally:
        writer.close()


def _arrivals(lines: list[tuple[float, bytes]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for stamp, line in lines:
        data = json.loads(line[len(b"data:") :])
        if data.get("kind") == "opened":
            out.setdefault(str(data["alert"]["device_id"]), stamp)
    return out


async def main(url: str, token: str, clients: int, seconds: float) -> None:
    """Open the streams, say when all are ready, follow for `seconds`, print the arrivals."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    received: list[list[tuple[float, bytes]]] = [[] for _ in range(clients)]
    connected = [asyncio.Event() for _ in range(clients)]
    tasks = [
        asyncio.create_task(_follow(host, port, token, received[i], connected[i])) for i in range(clients)
    ]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in connected)), 60)
    print(json.dumps({"ready": clients}), flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"arrivals": [_arrivals(lines) for lines in received]}), flush=True)


if __name__ == "__main__":
    hub_url, bearer, count, duration = sys.argv[1:5]
    asyncio.run(main(hub_url, bearer, int(count), float(duration)))
