async def count(n: int = 3):
    for i in range(n):
        yield f"{i},"
