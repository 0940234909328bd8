"""Press lanes: CPU phases in arrival order, at most N at once, "busy" when saturated."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from copilot._lanes import PressLanes
from copilot.errors import Busy


def _work(ms: float) -> float:
    """CPU-ish work holding the GIL part of the time, like a retrieval."""
    end = time.perf_counter() + ms / 1000
    while time.perf_counter() < end:
        pass
    return time.perf_counter()


async def _press(lanes: PressLanes, i: int, finished: list[int], model_wait: float = 0.0) -> None:
    with lanes.ticket() as ticket:
        await lanes.run(ticket, _work, 5)
        if model_wait:
            await asyncio.sleep(model_wait)  # the model call: holds no lane
        await lanes.run(ticket, _work, 2)
    finished.append(i)


def test_a_burst_finishes_in_arrival_order() -> None:
    lanes = PressLanes(lanes=1, max_waiting=100)
    finished: list[int] = []

    async def burst() -> None:
        await asyncio.gather(*(_press(lanes, i, finished) for i in range(20)))

    try:
        asyncio.run(burst())
    finally:
        lanes.close()
    assert finished == list(range(20))


def test_a_press_back_from_its_model_call_goes_before_later_arrivals() -> None:
    lanes = PressLanes(lanes=1, max_waiting=100)
    finished: list[int] = []

    async def run() -> None:
        first = asyncio.create_task(_press(lanes, 0, finished, model_wait=0.02))
        await asyncio.sleep(0.001)
        await asyncio.gather(first, *(_press(lanes, i, finished) for i in range(1, 12)))

    try:
        asyncio.run(run())
    finally:
        lanes.close()
    assert finished.index(0) < 6  # not behind all eleven later presses


def test_no_more_than_n_phases_at_once() -> None:
    lanes = PressLanes(lanes=2, max_waiting=100)
    running, peak, lock = [0], [0], threading.Lock()
    pair = threading.Barrier(2, timeout=10)  # phases meet in pairs: only if two run at once

    def phase() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        pair.wait()
        _work(3)
        with lock:
            running[0] -= 1

    async def run() -> None:
        async def one() -> None:
            with lanes.ticket() as ticket:
                await lanes.run(ticket, phase)

        await asyncio.gather(*(one() for _ in range(12)))

    try:
        asyncio.run(run())
    finally:
        lanes.close()
    assert peak[0] == 2


def test_saturated_lanes_refuse_with_busy_and_recover() -> None:
    lanes = PressLanes(lanes=1, max_waiting=3)

    async def run() -> None:
        tickets = [lanes.ticket() for _ in range(3)]
        with pytest.raises(Busy, match="busy: 3 presses in progress"):
            lanes.ticket()
        tickets[0].done()
        lanes.ticket().done()  # room again
        for t in tickets:
            t.done()
        assert lanes.pending == 0

    try:
        asyncio.run(run())
    finally:
        lanes.close()


def test_a_cancelled_waiter_does_not_stall_the_line() -> None:
    lanes = PressLanes(lanes=1, max_waiting=10)
    finished: list[int] = []

    async def run() -> None:
        slow = asyncio.create_task(_press(lanes, 0, finished))
        await asyncio.sleep(0)
        doomed = asyncio.create_task(_press(lanes, 1, finished))
        later = asyncio.create_task(_press(lanes, 2, finished))
        await asyncio.sleep(0.001)
        doomed.cancel()
        await asyncio.gather(slow, later)
        with pytest.raises(asyncio.CancelledError):
            await doomed

    try:
        asyncio.run(run())
    finally:
        lanes.close()
    assert finished == [0, 2]
    assert lanes.pending == 0


def test_one_press_may_wait_for_several_phases_at_once() -> None:
    """The agents of one press ask for lanes together: same ticket, queued side by side."""
    lanes = PressLanes(lanes=1, max_waiting=100)
    finished: list[int] = []

    async def press_with_agents(i: int) -> None:
        with lanes.ticket() as ticket:
            await asyncio.gather(*(lanes.run(ticket, _work, 1) for _ in range(3)))
        finished.append(i)

    async def burst() -> None:
        await asyncio.gather(*(press_with_agents(i) for i in range(5)))

    try:
        asyncio.run(asyncio.wait_for(burst(), timeout=30))
    finally:
        lanes.close()
    assert finished == list(range(5))
