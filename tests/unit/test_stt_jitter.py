"""The reordering window: order, loss, duplicates, late packets and the 65535 → 0 wrap.

Packets are parsed from byte fixtures, as they arrive from the socket.
"""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stt.jitter import ReorderBuffer, sequence_distance
from stt.rtp import RtpPacket, parse_rtp

SSRC = 0x5EED_0001
OTHER_SSRC = 0x5EED_0002


def packet(sequence: int, ssrc: int = SSRC) -> RtpPacket:
    """A slin16 packet whose payload names its sequence number, parsed from wire bytes."""
    header = struct.pack("!BBHII", 0x80, 118, sequence, sequence * 320 % (1 << 32), ssrc)
    return parse_rtp(header + struct.pack("!H", sequence) * 320)


def sequences(released: list[RtpPacket]) -> list[int]:
    return [item.sequence for item in released]


def push_all(buffer: ReorderBuffer, order: list[int], ssrc: int = SSRC) -> list[int]:
    released: list[int] = []
    for sequence in order:
        released += sequences(buffer.push(packet(sequence, ssrc)))
    return released


def counters(buffer: ReorderBuffer) -> tuple[int, int, int, int]:
    return buffer.duplicates, buffer.late, buffer.lost, buffer.resets


def test_packet_fixture_carries_its_sequence() -> None:
    """Steps: build packet 65535. Expected: parsed sequence 65535, 640-byte payload."""
    fixture = packet(65535)
    assert (fixture.sequence, len(fixture.payload), fixture.payload[:2]) == (
        65535,
        640,
        b"\xff\xff",
    )


@pytest.mark.parametrize(
    ("start", "end", "distance"),
    [
        (10, 11, 1),
        (11, 10, -1),
        (65535, 0, 1),
        (0, 65535, -1),
        (65530, 5, 11),
        (5, 65530, -11),
        (0, 32767, 32767),
        (0, 32768, -32768),
        (7, 7, 0),
    ],
)
def test_sequence_distance_wraps_at_65536(start: int, end: int, distance: int) -> None:
    """Steps: distance between two 16-bit sequence numbers.
    Expected: the short way round the circle, signed."""
    assert sequence_distance(start, end) == distance


def test_in_order_stream_is_released_at_once_across_the_wrap() -> None:
    """Steps: 65533 … 2 in order. Expected: each packet released by its own push."""
    buffer = ReorderBuffer()
    for sequence in [65533, 65534, 65535, 0, 1, 2]:
        assert sequences(buffer.push(packet(sequence))) == [sequence]
    assert counters(buffer) == (0, 0, 0, 0)
    assert buffer.held == 0


def test_every_reordering_within_the_depth_is_repaired_around_the_wrap() -> None:
    """Steps: for each start from 65528 to 3, one packet in order, then every permutation of
    the next depth+1 = 5 packets (displacement up to 4).
    Expected: all released in sequence order, nothing late, lost or duplicated."""
    for start in [*range(65528, 65536), 0, 1, 2, 3]:
        following = [(start + step) % 65536 for step in range(1, 6)]
        for order in itertools.permutations(following):
            buffer = ReorderBuffer(depth=4)
            released = push_all(buffer, [start, *order])
            assert released == [start, *following], (start, order)
            assert counters(buffer) == (0, 0, 0, 0)
            assert buffer.held == 0


@pytest.mark.parametrize("missing", [65534, 65535, 0, 1])
def test_overflow_gives_up_the_missing_slot(missing: int) -> None:
    """Steps: the packet before `missing`, then the 5 after it (one more than the depth).
    Expected: the first 4 are held; the 5th releases them all, the missing slot counted lost;
    when the missing packet finally arrives it is late and dropped."""
    buffer = ReorderBuffer(depth=4)
    before = (missing - 1) % 65536
    after = [(missing + step) % 65536 for step in range(1, 6)]
    assert push_all(buffer, [before]) == [before]
    assert push_all(buffer, after[:4]) == []
    assert buffer.held == 4
    assert push_all(buffer, after[4:]) == after
    assert counters(buffer) == (0, 0, 1, 0)
    assert push_all(buffer, [missing]) == []
    assert counters(buffer) == (0, 1, 1, 0)


def test_overflow_gives_up_only_as_many_slots_as_needed() -> None:
    """Steps: 65534, then 1 (65535 and 0 missing), then 4, then 5.
    Expected: 4 is exactly `depth` ahead of 0, so only 65535 is given up and 1 stays held
    in case 0 comes; 5 gives up 0 too and releases 1; 3 and 2 then arrive in time and
    release everything up to 5."""
    buffer = ReorderBuffer(depth=4)
    assert push_all(buffer, [65534, 1]) == [65534]
    assert push_all(buffer, [4]) == []
    assert buffer.lost == 1
    assert push_all(buffer, [5]) == [1]
    assert buffer.lost == 2
    assert push_all(buffer, [3, 2]) == [2, 3, 4, 5]
    assert counters(buffer) == (0, 0, 2, 0)


def test_duplicates_of_held_and_released_packets() -> None:
    """Steps: 65535 released, 1 held; then copies of 1 (held) and 65535 (released).
    Expected: both copies counted as duplicates, not late, and dropped."""
    buffer = ReorderBuffer()
    assert push_all(buffer, [65535, 1, 1, 65535]) == [65535]
    assert counters(buffer) == (2, 0, 0, 0)
    assert push_all(buffer, [0]) == [0, 1]


def test_flush_releases_what_is_held_and_the_stream_continues() -> None:
    """Steps: 65534; 0 and 1 held behind missing 65535; the stream goes quiet → flush;
    then 2 in order, then 65535 at last.
    Expected: flush gives [0, 1] with one loss; 2 passes at once; 65535 is late."""
    buffer = ReorderBuffer()
    assert push_all(buffer, [65534, 0, 1]) == [65534]
    assert sequences(buffer.flush()) == [0, 1]
    assert buffer.lost == 1
    assert buffer.held == 0
    assert push_all(buffer, [2]) == [2]
    assert push_all(buffer, [65535]) == []
    assert counters(buffer) == (0, 1, 1, 0)


def test_flush_orders_across_the_wrap() -> None:
    """Steps: 65532 released; 2, 65535, 0 held (arrival order) behind missing 65533.
    Expected: flush releases 65535, 0, 2 — wrap order, not numeric order — losing 3 slots."""
    buffer = ReorderBuffer(depth=8)
    assert push_all(buffer, [65532, 2, 65535, 0]) == [65532]
    assert sequences(buffer.flush()) == [65535, 0, 2]
    assert buffer.lost == 3  # 65533, 65534, 1


def test_flush_with_nothing_held() -> None:
    """Steps: flush a fresh buffer, then one after an in-order packet. Expected: nothing."""
    buffer = ReorderBuffer()
    assert buffer.flush() == []
    push_all(buffer, [9])
    assert buffer.flush() == []
    assert buffer.lost == 0


def test_new_ssrc_releases_the_old_stream_then_restarts() -> None:
    """Steps: old stream 100, 102 (101 missing); a new SSRC starts at 5000, then 5001.
    Expected: 102 released before 5000; the new stream continues in order; one reset."""
    buffer = ReorderBuffer()
    assert push_all(buffer, [100, 102]) == [100]
    assert push_all(buffer, [5000], ssrc=OTHER_SSRC) == [102, 5000]
    assert push_all(buffer, [5001], ssrc=OTHER_SSRC) == [5001]
    assert counters(buffer) == (0, 0, 1, 1)


def test_new_ssrc_with_a_nearby_sequence_is_still_a_new_stream() -> None:
    """Steps: old stream up to 10; a new SSRC starting at 3 (behind).
    Expected: 3 is the new stream's start, not a late packet."""
    buffer = ReorderBuffer()
    push_all(buffer, [8, 9, 10])
    assert push_all(buffer, [3, 4], ssrc=OTHER_SSRC) == [3, 4]
    assert counters(buffer) == (0, 0, 0, 1)


@pytest.mark.parametrize(
    ("jump", "restarts"),
    [(1000, False), (1001, True), (-1001, True), (-1000, False)],
)
def test_sequence_jump_beyond_the_limit_restarts(jump: int, restarts: bool) -> None:
    """Steps: 65000 released, then a packet `jump` places from the next expected (65001).
    Expected: beyond ±1000 the buffer restarts there and passes the packet at once; within
    the limit a forward jump skips ahead (counting losses) and a backward one is late."""
    buffer = ReorderBuffer()
    push_all(buffer, [65000])
    target = (65001 + jump) % 65536
    released = push_all(buffer, [target])
    if restarts:
        assert released == [target]
        assert counters(buffer) == (0, 0, 0, 1)
        assert push_all(buffer, [(target + 1) % 65536]) == [(target + 1) % 65536]
    elif jump > 0:
        assert released == []  # held: 4 slots before it may still arrive
        assert buffer.lost == jump - 4
        assert buffer.resets == 0
    else:
        assert released == []
        assert counters(buffer) == (0, 1, 0, 0)


def test_first_packet_defines_the_start() -> None:
    """Steps: 11 arrives before 10 at the very start. Expected: 10 is late (documented)."""
    buffer = ReorderBuffer()
    assert push_all(buffer, [11, 10, 12]) == [11, 12]
    assert buffer.late == 1


@pytest.mark.parametrize(
    ("depth", "reset_jump", "message"),
    [
        (0, 1000, "reorder depth must be at least 1 packet, got 0"),
        (4, 4, "reset_jump must lie between depth (4) and 32768, got 4"),
        (4, 40000, "reset_jump must lie between depth (4) and 32768, got 40000"),
    ],
)
def test_invalid_configuration(depth: int, reset_jump: int, message: str) -> None:
    """Steps: impossible window sizes. Expected: ValueError saying which."""
    with pytest.raises(ValueError) as raised:
        ReorderBuffer(depth=depth, reset_jump=reset_jump)
    assert str(raised.value) == message


@settings(max_examples=50)
@given(
    start=st.integers(0, 65535),
    delays=st.lists(st.integers(0, 4), min_size=1, max_size=60),
)
def test_any_bounded_reordering_is_repaired(start: int, delays: list[int]) -> None:
    """Steps: packet i arrives at position i + delay (delay ≤ depth; the first on time),
    from a random start sequence. Expected: every packet released once, in order."""
    count = len(delays) + 1
    arrival = sorted(range(count), key=lambda index: index + (delays[index - 1] if index else 0))
    arrival.remove(0)
    buffer = ReorderBuffer(depth=4)
    released = push_all(buffer, [start] + [(start + index) % 65536 for index in arrival])
    assert released == [(start + index) % 65536 for index in range(count)]
    assert counters(buffer) == (0, 0, 0, 0)


@settings(max_examples=50)
@given(
    start=st.integers(0, 65535),
    offsets=st.lists(st.integers(-6, 12), min_size=1, max_size=80),
)
def test_arbitrary_arrival_keeps_order_and_accounts_for_every_packet(
    start: int, offsets: list[int]
) -> None:
    """Steps: a random walk of sequence numbers (loss, duplicates, reordering, the wrap),
    then a flush. Expected: the output is strictly increasing modulo 2^16 with no repeats,
    and every pushed packet is either released, a duplicate, or late."""
    buffer = ReorderBuffer(depth=4)
    pushed = [start]
    for offset in offsets:
        pushed.append((pushed[-1] + offset) % 65536)
    released = push_all(buffer, pushed) + sequences(buffer.flush())
    assert all(sequence_distance(a, b) > 0 for a, b in itertools.pairwise(released))
    assert len(released) + buffer.duplicates + buffer.late == len(pushed)
    assert buffer.resets == 0
