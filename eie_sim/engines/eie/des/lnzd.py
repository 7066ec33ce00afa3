"""Leading non-zero detection (LNZD), EIE paper §III and Fig. 4: EIE's scan policy for the
central control unit (:class:`eie_sim.engines.pe_array.des.ccu.CentralControlUnit`).

The LNZD is a quadtree: each leaf watches 4 PEs' activations, each inner node 4 children,
the root is the CCU (21 nodes for 64 PEs). Activations are scanned in groups of N, one lane
per PE (activation j in lane j mod N); every cycle the tree selects the leading remaining
non-zero of the group, which the CCU broadcasts.

Timing (docs/MODEL.md §Scan and broadcast): a group costs one cycle per selected activation,
plus one cycle to move to the next group when the group's last lane is zero (an all-zero group
costs one cycle); missing lanes of a final partial group read as zero.
"""

from __future__ import annotations


class LeadingNonZeroDetect:
    """The LNZD quadtree over ``num_lanes`` lanes.

    ``levels[0]`` has one leaf per 4 lanes; each further level groups 4 nodes, up to the root.

    Cycle contract (as a scan policy, :meth:`scan_group`): one selection per cycle, in lane
    order; one more cycle after the group when its last lane is zero.

    Parameters
    ----------
    num_lanes : int
        Lanes (PEs) per group.
    counts : dict, optional
        Shared counters (``lnzd.select``, ``lnzd.advance``); a private tally if omitted.
    """

    def __init__(self, num_lanes: int, counts: dict[str, int] | None = None) -> None:
        self.num_lanes = num_lanes
        self.counts = counts if counts is not None else {"lnzd.select": 0, "lnzd.advance": 0}
        self.levels: list[int] = []
        width = num_lanes
        while True:
            width = -(-width // 4)
            self.levels.append(width)
            if width == 1:
                break

    @property
    def nodes(self) -> int:
        """Quadtree nodes (21 for 64 PEs)."""
        return sum(self.levels)

    def scan_group(self, lanes: list[int]) -> tuple[list[int], bool]:
        """The CCU's scan policy: the group's non-zero lanes in selection order, and whether
        moving to the next group costs a cycle (its last lane, or a missing lane, is zero)."""
        nonzero = [v != 0 for v in lanes]
        nonzero += [False] * (self.num_lanes - len(lanes))
        selected = self.select(nonzero)
        advance = not nonzero[-1]
        self.counts["lnzd.select"] += len(selected)
        self.counts["lnzd.advance"] += advance
        return selected, advance

    def select(self, nonzero: list[bool]) -> list[int]:
        """Lanes the tree selects from one group, in selection order (leading first).

        Each selection walks the tree top-down along the first child whose subtree still has a
        non-zero; the selected lane is then cleared.
        """
        remaining = list(nonzero)
        # valid[l][i]: node i of level l has a remaining non-zero below it.
        valid = [[any(remaining[4 * i : 4 * i + 4]) for i in range(self.levels[0])]]
        for width in self.levels[1:]:
            below = valid[-1]
            valid.append([any(below[4 * i : 4 * i + 4]) for i in range(width)])
        out = []
        while valid[-1][0]:
            node = 0
            for level in range(len(self.levels) - 2, -1, -1):
                node = next(c for c in range(4 * node, 4 * node + 4) if valid[level][c])
            lane = next(ln for ln in range(4 * node, 4 * node + 4) if remaining[ln])
            out.append(lane)
            remaining[lane] = False
            # Refresh the valid bits on the path from the leaf to the root.
            idx = lane // 4
            valid[0][idx] = any(remaining[4 * idx : 4 * idx + 4])
            for level in range(1, len(self.levels)):
                idx //= 4
                valid[level][idx] = any(valid[level - 1][4 * idx : 4 * idx + 4])
        return out
