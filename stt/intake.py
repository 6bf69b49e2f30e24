"""One call's RTP intake: a UDP socket Asterisk's ExternalMedia channel sends slin16 to.

The protocol callback only parses, reorders and converts (no awaits, no recognition):
audio goes to the consumer through `on_audio(pcm_le16, at)`. Garbage datagrams are
counted and dropped, never raised into the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from stt.jitter import ReorderBuffer
from stt.rtp import RtpError, RtpPacket, parse_rtp, slin16_be_to_le

log = logging.getLogger(__name__)

OnAudio = Callable[[bytes, float], None]


class RtpIntake(asyncio.DatagramProtocol):
    def __init__(self, on_audio: OnAudio, label: str) -> None:
        self._on_audio = on_audio
        self.cpu_seconds = 0.0  # thread CPU spent here, endpointing (on_audio) included
        self._label = label
        self._reorder = ReorderBuffer()
        self._loop = asyncio.get_running_loop()
        self.packets = 0
        self.garbage = 0
        self.source: tuple[str, int] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        start = time.thread_time()
        if self.source is None:
            self.source = addr
        try:
            packet = parse_rtp(data)
            released = self._reorder.push(packet)
        except RtpError as exc:
            self.garbage += 1
            if self.garbage == 1:
                log.warning("%s: dropping bad RTP from %s: %s", self._label, addr[0], exc)
        else:
            self.packets += 1
            self._deliver(released)
        self.cpu_seconds += time.thread_time() - start

    @property
    def held(self) -> int:
        return self._reorder.held

    def flush(self) -> None:
        """Release what the reorder window holds (the stream went quiet)."""
        self._deliver(self._reorder.flush())

    def _deliver(self, packets: list[RtpPacket]) -> None:
        at = self._loop.time()
        for packet in packets:
            try:
                pcm = slin16_be_to_le(packet.payload)
            except RtpError:
                self.garbage += 1
                continue
            self._on_audio(pcm, at)

    def error_received(self, exc: Exception) -> None:
        log.debug("%s: socket error %s", self._label, exc)


async def open_intake(
    host: str, port: int, on_audio: OnAudio, label: str
) -> tuple[asyncio.DatagramTransport, RtpIntake]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: RtpIntake(on_audio, label), local_addr=(host, port)
    )
    return transport, protocol
