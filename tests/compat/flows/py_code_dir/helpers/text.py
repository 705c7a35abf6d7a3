def describe(word: str) -> str:
    vowels = sum(1 for c in word.lower() if c in "aeiou")
    return f"{word} has {len(word)} letters and {vowels} vowels"
