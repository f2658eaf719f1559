"""How the Scaler reads a draining pod's own ``/metrics``, against local servers on 127.0.0.1.

- the sum of ``hatchet_worker_slots_in_use`` over its pools is what counts;
- a pod that answers with anything else, or not at all, reads as "not read" (the engine decides);
- the pods are read at once: where a network policy drops the operator's packets every read waits
  out its timeout, and one after another they would hold the whole step up for that many times.
  The server counts how many reads it held open together; nothing here is timed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from hatchet_operator import scaler

EXPOSITION = (
    "# TYPE hatchet_worker_slots_in_use gauge\n"
    'hatchet_worker_slots_in_use{slot_type="default"} 2.0\n'
    'hatchet_worker_slots_in_use{slot_type="durable"} 1.0\n'
    "hatchet_worker_slots_total 5.0\n"
)


def pod(name: str, ip: str | None = "127.0.0.1") -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"podIP": ip} if ip else {}}


def test_slots_in_use_sums_every_pool() -> None:
    assert scaler.slots_in_use(EXPOSITION) == 3
    assert scaler.slots_in_use("hatchet_worker_slots_total 5.0\n") == 0


def test_draining_pods_are_read_at_once_and_a_silent_one_reads_as_unknown(monkeypatch: Any) -> None:
    monkeypatch.setattr(scaler, "METRICS_TIMEOUT", 1.0)

    async def main() -> tuple[dict[str, int | None], dict[str, int | None], int]:
        held = 0
        most = 0

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            # Takes the request and never answers, as a dropped packet would look to the reader;
            # the read is held until the reader gives up and closes.
            nonlocal held, most
            held += 1
            most = max(most, held)
            try:
                await asyncio.wait_for(reader.read(), 10)
            except TimeoutError:
                pass
            finally:
                held -= 1
                writer.close()

        async def answering(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            body = EXPOSITION.encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()

        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        talks = await asyncio.start_server(answering, "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as session:
                s = scaler.Scaler(client=None, session=session)  # type: ignore[arg-type]
                silent_port = quiet.sockets[0].getsockname()[1]
                stuck = await s.local_in_use([pod("a"), pod("b"), pod("c"), pod("d", ip=None)], silent_port)
                answered = await s.local_in_use([pod("e")], talks.sockets[0].getsockname()[1])
        finally:
            quiet.close()
            talks.close()
        return stuck, answered, most

    stuck, answered, most = asyncio.run(main())
    assert stuck == {"a": None, "b": None, "c": None, "d": None}
    assert answered == {"e": 3}
    assert most == 3, f"{most} of the 3 reads were open together"
