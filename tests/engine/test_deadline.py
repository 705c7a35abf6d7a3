"""A line's time limit never swallows a cancel (``pfl run cancel`` must stop a run whose lines have a timeout)."""

import asyncio

import pytest

from promptflow_lite.engine._deadline import within


def test_a_cancel_arriving_as_the_work_finishes_is_not_lost():
    async def scenario():
        work = asyncio.get_running_loop().create_future()
        line = asyncio.ensure_future(within(work, 600))
        await asyncio.sleep(0)  # the line now waits for its work
        work.set_result("done")  # the work finishes ...
        line.cancel()  # ... and in the same loop turn the run is cancelled (asyncio.wait_for returned "done")
        with pytest.raises(asyncio.CancelledError):
            await line

    asyncio.run(scenario())


def test_work_slower_than_the_limit_times_out_and_faster_work_returns():
    async def scenario():
        with pytest.raises(asyncio.TimeoutError):
            await within(asyncio.sleep(5), 0.05)
        assert await within(asyncio.sleep(0, "quick"), 5) == "quick"
        assert await within(asyncio.sleep(0, "no limit"), None) == "no limit"

    asyncio.run(scenario())
