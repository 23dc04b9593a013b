"""Which rows of a batch run through the model together: the passes of a mixed batch, by cost.

One pass runs every row to the deepest layer any of its rows reads, padded to its longest row. Each
layer it runs costs a fixed part (reading that layer's weights, the per-layer work) and a part per
token of the padded rows. So one turn's router row (6 layers) and skill row (12 layers, twice the
tokens with echo) are cheaper in one pass, while sixteen router rows are cheaper on their own than
carried through six more layers and padded to the skill rows' length (measured, fp32, two threads:
a batch of 16 turns 893 ms in one pass, 519 ms as a router pass and a skill pass; one turn 62 ms
in one pass, 72 ms as two).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["CPU_LAYER_COST", "plan_passes"]

# a layer's fixed cost in a pass, counted in token rows: on this CPU a layer over 14 tokens took
# about 3.5 ms of a read and over 30 about 4.3 (weights, norms, attention bookkeeping)
CPU_LAYER_COST = 60


def plan_passes(rows: Sequence[tuple[int, int]], layer_cost: float = CPU_LAYER_COST) -> list[list[int]]:
    """Row indices grouped into passes, cheapest first found. `rows` holds each row's (layers it
    must run, tokens). A pass costs `depth * (layer_cost + rows * longest)`; the rows are sorted
    by depth and length and cut into runs by dynamic programming (a batch holds tens of rows)."""
    order = sorted(range(len(rows)), key=lambda i: rows[i])
    best = [0.0] + [math.inf] * len(order)  # best[k]: cheapest plan for the first k sorted rows
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        depth = longest = 0
        for start in range(end - 1, -1, -1):
            depth, longest = max(depth, rows[order[start]][0]), max(longest, rows[order[start]][1])
            cost = best[start] + depth * (layer_cost + (end - start) * longest)
            if cost < best[end]:
                best[end], cut[end] = cost, start
    passes, end = [], len(order)
    while end:
        passes.append(order[cut[end]:end])
        end = cut[end]
    return passes[::-1]
