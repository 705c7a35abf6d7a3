"""``pfl`` entry point: discovers the command modules of this package and dispatches.

A command module defines ``register(subparsers)`` which adds its parser and sets
``func=handler`` on it; the handler takes the parsed ``argparse.Namespace`` and returns an
exit code (``None`` means 0). Modules import heavy libraries inside handlers only, so
``pfl --help`` stays fast. Whatever a command prints, on stdout or stderr, tracebacks included, is
masked (:func:`~promptflow_lite.masking.mask_secrets`).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from promptflow_lite._gc import own_process, start_up
from promptflow_lite._version import __version__
from promptflow_lite.errors import PflError
from promptflow_lite.masking import masked_output


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command``, only that command group is imported (faster start)."""
    parser = argparse.ArgumentParser(
        prog="pfl",
        description="promptflow_lite: run, evaluate, trace and serve promptflow flows.",
    )
    parser.add_argument("--version", action="version", version=f"promptflow_lite {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--scripted-llm", metavar="RULES",
                        help="offline mode: answer every LLM connection from a scripted server using RULES (YAML)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = importlib.import_module("promptflow_lite.cli")
    names = [m.name for m in pkgutil.iter_modules(package.__path__)]
    if command in names:
        names = [command]
    modules = [importlib.import_module(f"promptflow_lite.cli.{name}") for name in names]
    for module in sorted(modules, key=lambda m: getattr(m, "ORDER", 100)):
        if hasattr(module, "register"):
            module.register(sub)
    _add_promptflow_common_flags(parser)
    return parser


def _add_promptflow_common_flags(parser: argparse.ArgumentParser) -> None:
    """Every command also takes promptflow's ``--verbose`` and ``-d/--debug`` after its name, as scripts
    written for ``pf`` type them (SUPPRESS: a leaf's default must not reset the global ``--debug``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_promptflow_common_flags(child)
            return
    known = parser._option_string_actions
    if "--verbose" not in known:
        parser.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                            help="more output (accepted as in promptflow)")
    if "--debug" not in known:
        flags = ["--debug"] if "-d" in known else ["-d", "--debug"]
        parser.add_argument(*flags, action="store_true", default=argparse.SUPPRESS,
                            help="show full tracebacks on errors")


def _command(argv: list[str]) -> str | None:
    """The command group named on the command line (after the global options), if any."""
    words = iter(argv)
    for word in words:
        if word == "--scripted-llm":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _printable_output() -> None:
    """Text that is not valid Unicode (a lone surrogate in data or an error) prints as its \\udXXX escape
    instead of ending the command (stderr already behaves so)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    """Run one ``pfl`` command; ``argv`` None: this process's command line (the ``pfl`` executable), the
    process is then the command's alone (its start-up objects are frozen out of the collector's sight)."""
    if argv is None:
        own_process()
        argv = sys.argv[1:]
    with start_up():  # the command's modules are imported: what they make lives on
        parser = build_parser(_command(argv))
        args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    if args.scripted_llm:
        import os

        os.environ["PFL_SCRIPTED_LLM"] = os.path.abspath(args.scripted_llm)
    _printable_output()
    with masked_output():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
    except PflError as exc:
        if not args.debug:
            print(f"Error ({exc.code}): {exc}", file=sys.stderr)
            return 1
        return _traceback()
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (`pfl run show-details R | head`): end quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit-time flush must not fail too
        return 141  # 128 + SIGPIPE, as other command-line tools
    except Exception:  # a bug
        return _traceback()
    return int(code or 0)


def _traceback() -> int:
    """Print the exception being handled, as Python would (on the masked stderr)."""
    import traceback

    traceback.print_exc()
    return 1


if __name__ == "__main__":
    sys.exit(main())
