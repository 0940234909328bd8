"""Presses side by side: first come, first served, and a clear "busy" when saturated.

A Suggest press is CPU work (redaction, one retrieval, the grounded agents, the
guard) around at most one wait on a model. On a 2-core machine running more
presses' CPU work at once than there are cores only makes every press slower: 20
presses arriving together would all finish near the end. So CPU phases run in
*lanes*: at most ``lanes`` phases at a time, on a dedicated thread pool (the event
loop stays free to acknowledge platform requests), granted strictly in the
order the presses arrived, also for a press coming back from its model call.
When more than ``max_waiting`` presses wait, a new press is refused at once with
:class:`~copilot.errors.Busy` instead of queueing without bound.

    lanes = PressLanes(lanes=2, max_waiting=64)
    ticket = lanes.ticket()               # at arrival; raises Busy when saturated
    value = await lanes.run(ticket, fn, *args)   # fn runs on the pool, in turn
    ticket.done()                         # at the end of the press
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .errors import Busy

__all__ = ["PressLanes", "Ticket"]

T = TypeVar("T")


class Ticket:
    """One press's place in line: its arrival number decides every turn it gets."""

    def __init__(self, lanes: PressLanes, number: int) -> None:
        self.number = number
        self._lanes = lanes
        self._open = True

    def done(self) -> None:
        if self._open:
            self._open = False
            self._lanes._active -= 1

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()


class PressLanes:
    """At most ``lanes`` CPU phases at once, granted by arrival order."""

    def __init__(self, lanes: int, max_waiting: int) -> None:
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, not {lanes}")
        self.lanes = lanes
        self.max_waiting = max_waiting
        self._pool = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="copilot-press")
        self._numbers = itertools.count()
        self._busy = 0  # lanes in use
        # Heap by arrival number, then request order (one press asks for several phases).
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._requests = itertools.count()
        self._active = 0  # presses admitted and not done

    @property
    def pending(self) -> int:
        """Presses admitted and not finished (running, waiting, or waiting on a model)."""
        return self._active

    def ticket(self) -> Ticket:
        """Admit a press, or raise ``Busy`` when ``max_waiting`` presses already wait."""
        if self._active - self._busy >= self.max_waiting:
            message = (
                f"busy: {self._active} presses in progress on this worker; retry in a moment"
                " (or add workers: copilot serve --workers N)"
            )
            raise Busy(message)
        self._active += 1
        return Ticket(self, next(self._numbers))

    async def run(self, ticket: Ticket, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the lanes' pool when it is this ticket's turn."""
        await self._acquire(ticket.number)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, fn, *args)
        finally:
            self._release()

    async def _acquire(self, number: int) -> None:
        if self._busy < self.lanes and not self._waiting:
            self._busy += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (number, next(self._requests), future)
        heapq.heappush(self._waiting, entry)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted just as we were cancelled: pass it on
            else:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the lane passes straight to the earliest arrival
                return
        self._busy -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
