import asyncio

from promptflow.core import tool


@tool
async def async_upper(text: str) -> str:
    await asyncio.sleep(0.05)
    return text.upper()
