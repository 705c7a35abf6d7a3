"""``pfl cache stats|clear``: inspect or empty the local LLM response cache."""

from __future__ import annotations

import argparse

ORDER = 70


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cache", help="inspect or clear the LLM response cache",
                                   description="The LLM response cache (PFL_HOME/cache/llm.sqlite) lets re-runs "
                                               "reuse answers instead of paying for them again.")
    actions = parser.add_subparsers(dest="cache_action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="show entries, size and models of the cache")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=_stats)
    clear = actions.add_parser("clear", help="delete every cached response")
    clear.set_defaults(func=_clear)


def _stats(args: argparse.Namespace) -> int:
    from promptflow_lite.tools._llm_cache import LLMCache

    cache = LLMCache()
    try:
        info = cache.stats()
    finally:
        cache.close()
    info.pop("hits"), info.pop("misses")
    if args.json:
        from promptflow_lite.cli._common import print_json

        print_json(info)
        return 0
    print(f"Cache: {info['path']}")
    print(f"Entries: {info['entries']} ({info['bytes'] / 1024:.1f} KiB of responses)")
    for row in info["by_model"]:
        print(f"  {row['api']:<10} {row['model'] or '-':<30} {row['entries']}")
    return 0


def _clear(args: argparse.Namespace) -> int:
    from promptflow_lite.tools._llm_cache import LLMCache

    cache = LLMCache()
    try:
        removed = cache.clear()
    finally:
        cache.close()
    print(f"Removed {removed} cached response(s) from {cache.path}.")
    return 0
