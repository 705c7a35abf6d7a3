"""Compare: two or more runs over the same data (``?runs=a,b``): paired statistics, charts, lines side by side."""

from promptflow_lite.ui import _compare_view
from promptflow_lite.ui._runs_common import guard

guard(_compare_view.show)
