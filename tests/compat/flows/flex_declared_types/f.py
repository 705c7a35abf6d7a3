def run(count: int, ratio: float = 0.5, flag: bool = False):
    return {"count": count, "ratio": ratio, "flag": flag, "types": [type(count).__name__, type(ratio).__name__, type(flag).__name__]}
