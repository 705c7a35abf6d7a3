from typing import List

from promptflow import tool


@tool
def sort_numbers(numbers: List[int]) -> List[int]:
    return sorted(numbers)
