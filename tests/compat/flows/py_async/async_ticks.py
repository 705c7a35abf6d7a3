import asyncio

from promptflow.core import tool


@tool
async def async_ticks(label: str):
    for i in range(3):
        await asyncio.sleep(0)
        yield f"[{label}:{i}]"
