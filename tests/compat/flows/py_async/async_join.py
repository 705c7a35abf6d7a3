import asyncio

from promptflow.core import tool


@tool
async def async_join(a: str, b: str) -> str:
    await asyncio.sleep(0.01)
    return f"{a}+{b}"
