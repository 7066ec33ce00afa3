"""ActivationQueue: the FIFO between the central control unit and one PE (EIE paper Fig. 4).

Contract (docs/MODEL.md §Activation queue), cycle-timestamped so that the order in which
SimPy runs same-cycle events cannot change the outcome:

* it holds at most ``capacity`` entries (``depth - 1`` for the circular buffer of the
  authors' simulator, ``depth`` for the counter model);
* an entry pushed in cycle t can be popped from cycle t + 1 on;
* a pop in cycle t frees its slot for a push only from cycle t + 1 on.
"""

from __future__ import annotations

from collections import deque

import simpy

from eie_sim.engines.pe_array.timing import QUEUE_VISIBLE_DELAY


class ActivationQueue:
    """Bounded FIFO of broadcast activations ``(attempt_cycle, column, value)``.

    Parameters
    ----------
    env : simpy.Environment
        Time is in clock cycles.
    capacity : int
        Entries held before the queue reports full (>= 1).
    counts : dict
        Shared counters; updates ``pe.act_queue.push`` / ``pe.act_queue.pop``.
    """

    def __init__(self, env: simpy.Environment, capacity: int, counts: dict[str, int]) -> None:
        self.env = env
        self.capacity = capacity
        self.counts = counts
        self._items: deque[tuple[int, int, int, int]] = deque()
        self.last_pop_cycle = -1
        self._closed = False
        self._waiter: simpy.Event | None = None
        self._pop_event = env.event()

    def open(self) -> None:
        """Start a pass: the queue accepts broadcasts until :meth:`close`."""
        self._closed = False

    def has_room(self) -> bool:
        """True if a push in the current cycle is allowed."""
        occupied = len(self._items) + (self.last_pop_cycle == self.env.now)
        return occupied < self.capacity

    @property
    def popped(self) -> simpy.Event:
        """Event that fires at the next pop."""
        return self._pop_event

    def push(self, attempt_cycle: int, column: int, value: int) -> None:
        """Write one broadcast entry in the current cycle (caller checked :meth:`has_room`)."""
        self._items.append((self.env.now, attempt_cycle, column, value))
        self.counts["pe.act_queue.push"] += 1
        self._wake()

    def close(self) -> None:
        """The central control unit finished the pass: no more pushes."""
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            waiter, self._waiter = self._waiter, None
            waiter.succeed()

    def wait_head(self):
        """SimPy sub-process: wait until the head entry can be popped (it is visible).

        Returns ``(push_cycle, attempt_cycle, column, value)`` without popping it, or None once
        the queue is closed and empty.
        """
        env = self.env
        while True:
            if self._items:
                visible_at = self._items[0][0] + QUEUE_VISIBLE_DELAY
                if visible_at <= env.now:
                    return self._items[0]
                yield env.timeout(visible_at - env.now)
            elif self._closed:
                return None
            else:
                self._waiter = env.event()
                yield self._waiter

    def pop(self) -> tuple[int, int, int, int]:
        """Pop the (visible) head entry in the current cycle."""
        item = self._items.popleft()
        self.last_pop_cycle = self.env.now
        self.counts["pe.act_queue.pop"] += 1
        event, self._pop_event = self._pop_event, self.env.event()
        event.succeed()
        return item
