"""The RTP port pool: even ports, no collisions, least recently released first."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stt.ports import PortPool, PortsExhausted


@pytest.mark.parametrize(
    ("first", "last", "capacity"),
    [(10000, 10199, 100), (10000, 10198, 100), (10000, 10000, 1), (10000, 10001, 1)],
)
def test_capacity_counts_even_ports(first: int, last: int, capacity: int) -> None:
    """Steps: build pools over various ranges. Expected: one stream per even port."""
    pool = PortPool(first, last)
    assert (pool.capacity, pool.in_use, pool.available) == (capacity, 0, capacity)


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (10001, 10099, "first port 10001 is odd; RTP ports are even"),
        (10100, 10000, "port range 10100–10000 must satisfy 1024 ≤ first ≤ last ≤ 65535"),
        (1022, 2000, "port range 1022–2000 must satisfy 1024 ≤ first ≤ last ≤ 65535"),
        (60000, 65536, "port range 60000–65536 must satisfy 1024 ≤ first ≤ last ≤ 65535"),
    ],
)
def test_invalid_ranges(first: int, last: int, message: str) -> None:
    """Steps: odd, inverted, privileged and out-of-range bounds. Expected: ValueError."""
    with pytest.raises(ValueError) as raised:
        PortPool(first, last)
    assert str(raised.value) == message


def test_fresh_pool_hands_out_even_ports_in_ascending_order() -> None:
    """Steps: acquire every port of 20000–20009. Expected: 20000, 20002, … 20008."""
    pool = PortPool(20000, 20009)
    assert [pool.acquire() for _ in range(pool.capacity)] == [20000, 20002, 20004, 20006, 20008]
    assert (pool.in_use, pool.available) == (5, 0)


def test_exhaustion_then_release_makes_room() -> None:
    """Steps: take both ports, ask for a third, release one, ask again.
    Expected: PortsExhausted naming the range; then the released port comes back."""
    pool = PortPool(30000, 30003)
    first, second = pool.acquire(), pool.acquire()
    with pytest.raises(PortsExhausted, match="all 2 RTP ports in 30000–30003 are in use"):
        pool.acquire()
    pool.release(first)
    assert pool.acquire() == first
    assert pool.is_held(second)


def test_released_port_waits_behind_every_other_free_port() -> None:
    """Steps: pool of 3; acquire 40000, release it, then acquire 3 times.
    Expected: 40002 and 40004 (never used) first, 40000 last — a late packet from the call
    that just ended does not land on the next call."""
    pool = PortPool(40000, 40005)
    port = pool.acquire()
    pool.release(port)
    assert [pool.acquire() for _ in range(3)] == [40002, 40004, 40000]


def test_release_order_decides_reuse_order() -> None:
    """Steps: take all 3 ports, release 40004, 40000, 40002 in that order, take all again.
    Expected: the same order back: 40004, 40000, 40002."""
    pool = PortPool(40000, 40005)
    for _ in range(3):
        pool.acquire()
    for port in (40004, 40000, 40002):
        pool.release(port)
    assert [pool.acquire() for _ in range(3)] == [40004, 40000, 40002]


def test_release_of_a_port_not_held() -> None:
    """Steps: release a never-acquired port, then release one twice.
    Expected: ValueError each time, and the pool's counts unchanged."""
    pool = PortPool(50000, 50009)
    with pytest.raises(ValueError, match=r"port 50002 is not held \(released twice"):
        pool.release(50002)
    port = pool.acquire()
    pool.release(port)
    with pytest.raises(ValueError, match=f"port {port} is not held"):
        pool.release(port)
    assert (pool.in_use, pool.available) == (0, 5)


@pytest.mark.parametrize("port", [50001, 49998, 50010])
def test_release_of_a_foreign_port(port: int) -> None:
    """Steps: release an odd port or one outside the range.
    Expected: ValueError saying it is not one of this pool's ports."""
    pool = PortPool(50000, 50009)
    pool.acquire()
    with pytest.raises(ValueError, match=f"port {port} is not one of this pool's even ports"):
        pool.release(port)
    assert pool.in_use == 1


@settings(max_examples=50)
@given(
    operations=st.lists(st.tuples(st.booleans(), st.integers(0, 1000)), max_size=200),
)
def test_random_acquire_release_never_collides(operations: list[tuple[bool, int]]) -> None:
    """Steps: a random sequence of acquires and releases (of a random held port) on a pool
    of 6. Expected: an acquired port is never already held; exhaustion happens exactly when
    all 6 are held; each acquire returns the free port released longest ago (never-used
    ports first, lowest first)."""
    pool = PortPool(60000, 60011)
    held: list[int] = []
    released_at: dict[int, int] = {}  # port → step of its last release
    for step, (wants_port, choice) in enumerate(operations):
        if wants_port or not held:
            if len(held) == pool.capacity:
                with pytest.raises(PortsExhausted):
                    pool.acquire()
                continue
            free = [port for port in range(60000, 60012, 2) if port not in held]
            expected = min(free, key=lambda port: (released_at.get(port, -1), port))
            port = pool.acquire()
            assert port not in held
            assert port == expected
            held.append(port)
        else:
            port = held.pop(choice % len(held))
            pool.release(port)
            released_at[port] = step
        assert pool.in_use == len(held)
        assert pool.available == pool.capacity - len(held)
