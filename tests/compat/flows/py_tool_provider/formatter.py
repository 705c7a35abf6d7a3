from promptflow.core import ToolProvider, tool


class Formatter(ToolProvider):
    """A class-based tool: __init__ parameters are literal node inputs shared by all calls."""

    def __init__(self, prefix: str, times: int = 1):
        super().__init__()
        self.prefix = prefix
        self.times = times

    def helper(self, text: str) -> str:
        return (text + " ") * self.times

    @tool
    def format(self, text: str) -> str:
        return self.prefix + self.helper(text).strip().upper()
