"""Cycle constants of the PE array's pipeline (docs/MODEL.md §Timing), shared by both machines
and both engines.

A single broadcast activation with ``k`` entries per PE finishes in ``8 + k`` cycles: found
(broadcast) at cycle 1, visible in the queue and popped at 2, first entry issued at 3, weight
SRAM at 4, three arithmetic stages at 5-7, accumulator write at 8.
"""

from __future__ import annotations

#: Cycle in which the scan makes its first broadcast (cycle 0 starts the layer or pass).
SCAN_START_CYCLE = 1
#: A pushed queue entry can be popped this many cycles after the push.
QUEUE_VISIBLE_DELAY = 1
#: First entry issue follows the pop (the column source's first read) by this many cycles.
POP_TO_ISSUE = 1
#: The accumulator write of an entry lands this many cycles after its issue.
ISSUE_TO_WRITE = 5
#: Earliest first issue of a broadcast after its push (``S >= P + 2``).
PUSH_TO_ISSUE = QUEUE_VISIBLE_DELAY + POP_TO_ISSUE


def queue_wait(last_issue: int, attempt: int, push: int) -> tuple[int, int]:
    """``(unblocked, held)``: the first cycle a PE that last issued at ``last_issue`` could have
    issued this broadcast had the CCU pushed it on its first attempt, and the cycle it can
    given the actual push. ``held - unblocked`` is the PE's stall (a full queue elsewhere held
    the broadcast back); both engines of every PE array count it this way."""
    return (max(last_issue + 1, attempt + PUSH_TO_ISSUE),
            max(last_issue + 1, push + PUSH_TO_ISSUE))
