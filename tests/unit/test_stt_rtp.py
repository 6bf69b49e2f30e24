"""RTP parsing (RFC 3550) and slin16 byte order, on byte fixtures."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stt.rtp import (
    SLIN16_BYTES_PER_FRAME,
    SLIN16_SAMPLE_RATE,
    SLIN16_SAMPLES_PER_FRAME,
    RtpError,
    RtpPacket,
    parse_rtp,
    slin16_be_to_le,
)

# V=2, no flags, PT 118 (a dynamic type Asterisk uses for slin16), seq 0x1234,
# timestamp 0x00010000, SSRC 0xCAFEBABE.
MINIMAL_HEADER = bytes.fromhex("80 76 1234 00010000 cafebabe")


def rtp_bytes(
    *,
    version: int = 2,
    marker: bool = False,
    payload_type: int = 118,
    sequence: int = 1,
    timestamp: int = 160,
    ssrc: int = 0x1234_5678,
    csrc: tuple[int, ...] = (),
    extension: tuple[int, bytes] | None = None,
    payload: bytes = b"",
    padding: int = 0,
) -> bytes:
    """An RTP datagram assembled field by field, independently of the parser."""
    first = version << 6 | (0x20 if padding else 0) | (0x10 if extension else 0) | len(csrc)
    second = (0x80 if marker else 0) | payload_type
    header = struct.pack("!BBHII", first, second, sequence, timestamp, ssrc)
    header += b"".join(struct.pack("!I", source) for source in csrc)
    if extension is not None:
        profile, data = extension
        header += struct.pack("!HH", profile, len(data) // 4) + data
    tail = b"\x00" * (padding - 1) + bytes([padding]) if padding else b""
    return header + payload + tail


def test_minimal_header_fields() -> None:
    """Steps: a 12-byte header followed by one 640-byte slin16 frame.
    Expected: every header field decoded; the payload is the 640 bytes after the header."""
    payload = bytes(range(256)) * 2 + bytes(128)
    packet = parse_rtp(MINIMAL_HEADER + payload)
    assert packet == RtpPacket(
        version=2,
        padding=False,
        extension=False,
        marker=False,
        payload_type=118,
        sequence=0x1234,
        timestamp=0x0001_0000,
        ssrc=0xCAFE_BABE,
        csrc=(),
        extension_profile=None,
        extension_data=b"",
        payload=payload,
    )


def test_marker_and_payload_type_share_the_second_byte() -> None:
    """Steps: second byte 0xE0. Expected: marker set, payload type 96 (not 224)."""
    packet = parse_rtp(bytes.fromhex("80 e0 ffff ffffffff 00000001") + b"\x01\x02")
    assert packet.marker is True
    assert packet.payload_type == 96
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (65535, 0xFFFF_FFFF, 1)
    assert packet.payload == b"\x01\x02"


def test_header_with_only_the_fixed_part_has_an_empty_payload() -> None:
    """Steps: exactly 12 bytes. Expected: parsed, payload empty."""
    assert parse_rtp(MINIMAL_HEADER).payload == b""


def test_csrc_list_lengthens_the_header() -> None:
    """Steps: CC=2 with two CSRC identifiers, then 4 payload bytes.
    Expected: both CSRC decoded; the payload starts at byte 20, not 12."""
    data = bytes.fromhex("82 76 0001 00000000 00000009 00000011 00000022 a1a2a3a4")
    packet = parse_rtp(data)
    assert packet.csrc == (0x11, 0x22)
    assert packet.payload == bytes.fromhex("a1a2a3a4")


def test_header_extension_is_skipped_and_kept() -> None:
    """Steps: X=1, profile 0xBEDE (RFC 8285 one-byte), length 2 words, then payload.
    Expected: profile and 8 extension bytes kept; the payload starts after them."""
    extension_data = bytes.fromhex("10ff0000 22aabb00")
    data = bytes.fromhex("90 76 0001 00000000 00000009 bede 0002") + extension_data + b"pcm!"
    packet = parse_rtp(data)
    assert packet.extension is True
    assert packet.extension_profile == 0xBEDE
    assert packet.extension_data == extension_data
    assert packet.payload == b"pcm!"


def test_empty_extension_is_allowed() -> None:
    """Steps: X=1 with length 0. Expected: profile kept, no extension data, payload follows."""
    packet = parse_rtp(rtp_bytes(extension=(0x1000, b""), payload=b"ab"))
    assert (packet.extension_profile, packet.extension_data, packet.payload) == (0x1000, b"", b"ab")


def test_padding_is_removed_from_the_payload() -> None:
    """Steps: P=1, 6 payload bytes, 4 padding bytes ending in count 4.
    Expected: the payload is the 6 bytes only."""
    packet = parse_rtp(bytes.fromhex("a0 76 1234 00010000 cafebabe") + b"abcdef\0\0\0\x04")
    assert packet.padding is True
    assert packet.payload == b"abcdef"


def test_padding_may_fill_the_whole_payload_area() -> None:
    """Steps: P=1 and a pad count equal to every byte after the header.
    Expected: valid, empty payload."""
    assert parse_rtp(rtp_bytes(padding=8)).payload == b""


def test_csrc_extension_and_padding_together() -> None:
    """Steps: 3 CSRC, a 1-word extension, 5 payload bytes, 3 padding bytes.
    Expected: each part lands in its own field."""
    data = rtp_bytes(
        csrc=(1, 2, 3), extension=(0xABCD, b"\x01\x02\x03\x04"), payload=b"hello", padding=3
    )
    packet = parse_rtp(data)
    assert packet.csrc == (1, 2, 3)
    assert packet.extension_data == b"\x01\x02\x03\x04"
    assert packet.payload == b"hello"


def test_accepts_a_bytearray_and_returns_bytes() -> None:
    """Steps: parse from a bytearray (a reused receive buffer).
    Expected: the payload is an immutable copy, unaffected when the buffer is reused."""
    buffer = bytearray(rtp_bytes(payload=b"abcd"))
    packet = parse_rtp(buffer)
    buffer[12:16] = b"zzzz"
    assert packet.payload == b"abcd"
    assert type(packet.payload) is bytes


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTP packet of 0 bytes: shorter than the 12-byte fixed header"),
        (MINIMAL_HEADER[:11], "RTP packet of 11 bytes: shorter than the 12-byte fixed header"),
        (b"\x40" + MINIMAL_HEADER[1:], "RTP packet of 12 bytes: version 1, expected 2"),
        (b"\x00" + MINIMAL_HEADER[1:], "RTP packet of 12 bytes: version 0, expected 2"),
        (b"\xc0" + MINIMAL_HEADER[1:], "RTP packet of 12 bytes: version 3, expected 2"),
        (
            b"\x82" + MINIMAL_HEADER[1:] + b"\0\0",
            "RTP packet of 14 bytes: 2 CSRC need 20 header bytes",
        ),
        (
            b"\x8f" + MINIMAL_HEADER[1:] + bytes(56),
            "RTP packet of 68 bytes: 15 CSRC need 72 header bytes",
        ),
        (
            b"\x90" + MINIMAL_HEADER[1:] + b"\xbe\xde",
            "RTP packet of 14 bytes: extension flag set, extension header needs 16 header bytes",
        ),
        (
            b"\x91" + MINIMAL_HEADER[1:] + bytes(4) + b"\xbe\xde\x00\x02" + bytes(7),
            "RTP packet of 27 bytes: extension of 2 words needs 28 header bytes",
        ),
        (
            b"\xa0" + MINIMAL_HEADER[1:],
            "RTP packet of 12 bytes: padding flag set but no byte after the 12-byte header "
            "holds the padding count",
        ),
        (
            b"\xa0" + MINIMAL_HEADER[1:] + b"abc\x00",
            "RTP packet of 16 bytes: padding count 0, must be at least 1",
        ),
        (
            b"\xa0" + MINIMAL_HEADER[1:] + b"abc\x05",
            "RTP packet of 16 bytes: padding count 5 exceeds the 4 bytes after the 12-byte header",
        ),
    ],
    ids=[
        "empty",
        "11-bytes",
        "version-1",
        "version-0",
        "version-3",
        "csrc-truncated",
        "15-csrc-truncated",
        "extension-header-truncated",
        "extension-data-truncated",
        "padding-without-count",
        "padding-count-zero",
        "padding-beyond-payload",
    ],
)
def test_malformed_packets_raise_a_precise_error(data: bytes, message: str) -> None:
    """Steps: each truncated or inconsistent datagram. Expected: RtpError naming the check."""
    with pytest.raises(RtpError) as raised:
        parse_rtp(data)
    assert str(raised.value) == message


def test_padding_cannot_reach_into_the_extension() -> None:
    """Steps: P=1 with a 1-word extension, 2 payload bytes, pad count 3.
    Expected: RtpError — only the 2 bytes after the 20-byte header may be padding."""
    data = rtp_bytes(extension=(1, b"wxyz"), payload=b"a") + b"\x03"
    data = bytes([data[0] | 0x20]) + data[1:]
    with pytest.raises(RtpError, match="padding count 3 exceeds the 2 bytes after the 20-byte"):
        parse_rtp(data)


def test_trailing_byte_is_not_padding_without_the_flag() -> None:
    """Steps: P=0, payload ending in 0x03. Expected: the byte stays in the payload."""
    assert parse_rtp(rtp_bytes(payload=b"ab\x03")).payload == b"ab\x03"


def test_rtp_error_is_a_value_error() -> None:
    """Steps: a short datagram. Expected: catchable as ValueError by generic callers."""
    with pytest.raises(ValueError, match="shorter than"):
        parse_rtp(b"\x80")


@settings(max_examples=50)
@given(
    marker=st.booleans(),
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFF_FFFF),
    ssrc=st.integers(0, 0xFFFF_FFFF),
    csrc=st.lists(st.integers(0, 0xFFFF_FFFF), max_size=15).map(tuple),
    extension=st.none() | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=12)),
    payload=st.binary(max_size=700),
    padding=st.integers(0, 255),
)
def test_every_well_formed_packet_parses_back_to_its_fields(
    marker: bool,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    csrc: tuple[int, ...],
    extension: tuple[int, bytes] | None,
    payload: bytes,
    padding: int,
) -> None:
    """Steps: assemble a datagram from random fields. Expected: each field read back exactly."""
    if extension is not None:
        extension = (extension[0], extension[1][: len(extension[1]) // 4 * 4])
    data = rtp_bytes(
        marker=marker,
        payload_type=payload_type,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        csrc=csrc,
        extension=extension,
        payload=payload,
        padding=padding,
    )
    packet = parse_rtp(data)
    assert packet.marker is marker
    assert packet.padding is (padding > 0)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        payload_type,
        sequence,
        timestamp,
        ssrc,
    )
    assert packet.csrc == csrc
    if extension is None:
        assert (packet.extension, packet.extension_profile, packet.extension_data) == (
            False,
            None,
            b"",
        )
    else:
        assert (packet.extension_profile, packet.extension_data) == extension
    assert packet.payload == payload


def test_slin16_frame_constants() -> None:
    """Steps: read the constants. Expected: 20 ms at 16 kHz is 320 samples, 640 bytes."""
    assert (SLIN16_SAMPLE_RATE, SLIN16_SAMPLES_PER_FRAME, SLIN16_BYTES_PER_FRAME) == (
        16_000,
        320,
        640,
    )


def test_slin16_byte_order_known_samples() -> None:
    """Steps: big-endian 0x1234, -2 (0xFFFE), 1, -32768.
    Expected: the same values little-endian."""
    big_endian = bytes.fromhex("1234 fffe 0001 8000")
    assert slin16_be_to_le(big_endian) == bytes.fromhex("3412 feff 0100 0080")
    assert struct.unpack("<4h", slin16_be_to_le(big_endian)) == (0x1234, -2, 1, -32768)


def test_slin16_frame_matches_numpy_reading() -> None:
    """Steps: a random 640-byte big-endian frame.
    Expected: the converted frame read little-endian equals the original read big-endian."""
    frame = np.random.default_rng(3).integers(0, 256, SLIN16_BYTES_PER_FRAME, dtype=np.uint8)
    converted = slin16_be_to_le(frame.tobytes())
    np.testing.assert_array_equal(
        np.frombuffer(converted, "<i2"), np.frombuffer(frame.tobytes(), ">i2")
    )


def test_slin16_empty_payload() -> None:
    """Steps: no samples. Expected: no bytes, no error."""
    assert slin16_be_to_le(b"") == b""


def test_slin16_odd_length_is_rejected() -> None:
    """Steps: 641 bytes. Expected: RtpError — half a sample cannot be converted."""
    with pytest.raises(RtpError, match="slin16 payload of 641 bytes: not a whole number"):
        slin16_be_to_le(bytes(641))
