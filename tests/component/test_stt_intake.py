"""The media clock reading real UDP sockets on localhost: each tick delivers what
arrived as one piece of little-endian audio, in sequence order; a quiet tick releases
what the reorder window held; garbage is counted, never raised; a failing consumer
closes its own intake only."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest

from stt.intake import MediaClock

HOST = "127.0.0.1"


def rtp(sequence: int, payload: bytes, ssrc: int = 0xCAFE) -> bytes:
    return struct.pack("!BBHII", 0x80, 118, sequence, sequence * 320, ssrc) + payload


def samples_be(*values: int) -> bytes:
    return struct.pack(f">{len(values)}h", *values)


def samples_le(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


@pytest.fixture
def sender():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sock
    sock.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def until_readable(intake) -> None:
    """Wait (bounded) until the intake's socket has a datagram, without consuming it.
    Loopback hands a datagram to the receiving socket within `sendto`, so once the
    first is there, all sent before the wait are."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(intake._sock.fileno(), lambda: ready.done() or ready.set_result(None))
    try:
        async with asyncio.timeout(2):
            await ready
    finally:
        loop.remove_reader(intake._sock.fileno())


async def test_a_tick_delivers_what_arrived_in_order_and_converted(sender):
    clock = MediaClock()
    heard: list[tuple[bytes, float]] = []
    intake = clock.open(HOST, free_port(), lambda pcm, at: heard.append((pcm, at)), "call a")
    try:
        for sequence, value in ((10, 1), (12, 3), (11, 2), (13, 4)):  # 12 before 11
            sender.sendto(rtp(sequence, samples_be(value, -value)), (HOST, intake.port))
        await until_readable(intake)
        clock._tick(7.5)
        assert heard == [(samples_le(1, -1, 2, -2, 3, -3, 4, -4), 7.5)]
        assert intake.packets == 4 and intake.garbage == 0
        assert intake.source is not None and intake.source[0] == HOST
    finally:
        clock.close(intake)


async def test_a_quiet_tick_releases_what_waited_for_a_lost_packet(sender):
    clock = MediaClock()
    heard: list[bytes] = []
    intake = clock.open(HOST, free_port(), lambda pcm, at: heard.append(pcm), "call b")
    try:
        sender.sendto(rtp(1, samples_be(1)), (HOST, intake.port))
        sender.sendto(rtp(3, samples_be(3)), (HOST, intake.port))  # 2 is lost
        await until_readable(intake)
        clock._tick(1.0)
        assert heard == [samples_le(1)] and intake.held == 1
        clock._tick(1.1)  # nothing new: the stream went quiet
        assert heard == [samples_le(1), samples_le(3)] and intake.held == 0
    finally:
        clock.close(intake)


async def test_garbage_is_counted_and_good_audio_still_delivered(sender):
    clock = MediaClock()
    heard: list[bytes] = []
    intake = clock.open(HOST, free_port(), lambda pcm, at: heard.append(pcm), "call c")
    try:
        sender.sendto(b"\x00\x01", (HOST, intake.port))  # shorter than a header
        sender.sendto(rtp(5, b"\x00\x01\x02"), (HOST, intake.port))  # odd slin16 payload
        sender.sendto(rtp(6, samples_be(6)), (HOST, intake.port))
        await until_readable(intake)
        clock._tick(2.0)
        assert heard == [samples_le(6)]
        assert intake.garbage == 2
    finally:
        clock.close(intake)


async def test_a_failing_consumer_closes_only_its_own_intake(sender):
    clock = MediaClock()
    heard: list[bytes] = []

    def broken(pcm: bytes, at: float) -> None:
        raise RuntimeError("consumer bug")

    bad = clock.open(HOST, free_port(), broken, "call bad")
    good = clock.open(HOST, free_port(), lambda pcm, at: heard.append(pcm), "call good")
    try:
        for intake in (bad, good):
            sender.sendto(rtp(1, samples_be(9)), (HOST, intake.port))
            await until_readable(intake)
        clock._tick(3.0)
        assert heard == [samples_le(9)]
        assert clock.open_intakes == 1
    finally:
        clock.close(good)


async def test_the_clock_task_reads_on_its_own_and_idles_when_nothing_is_open(sender):
    clock = MediaClock(tick_s=0.02)
    got = asyncio.Event()
    task = asyncio.create_task(clock.run())
    try:
        intake = clock.open(HOST, free_port(), lambda pcm, at: got.set(), "call d")
        sender.sendto(rtp(1, samples_be(1)), (HOST, intake.port))
        async with asyncio.timeout(2):
            await got.wait()
        clock.close(intake)
        assert clock.open_intakes == 0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_a_port_in_use_is_refused_at_open():
    clock = MediaClock()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind((HOST, 0))
        with pytest.raises(OSError):
            clock.open(HOST, holder.getsockname()[1], lambda pcm, at: None, "call e")
    assert clock.open_intakes == 0
