"""No limiting at all: every job is sent the moment it is released.

The baseline that shows the 429 storm a rate-limited API answers with: ``peak_window_count`` is
the whole batch, and every request beyond the quota is throttled.
"""

from __future__ import annotations

from strategies.base import Jobs, Send, Strategy, for_each


class Unlimited(Strategy):
    """``for_each(jobs, send)``: one task per job, no waiting."""

    name = "unlimited"
    description = "no limiting: every job is sent the moment it is released (the 429 storm)"

    async def run(self, jobs: Jobs, send: Send) -> None:
        await for_each(jobs, send)
