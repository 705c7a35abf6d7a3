"""Build step: ship ``promptflow_lite-promptflow.pth`` so ``import promptflow`` works in plain scripts.

The ``.pth`` file sits in site-packages next to the package. Its one line appends a finder to
``sys.meta_path`` that costs nothing at start-up: it is asked only for modules no other finder
found, and only for ``promptflow`` names does it load promptflow_lite's alias
(:func:`promptflow_lite._compat.find_spec_at_startup`). A real promptflow, when installed, is
found first and always wins.
"""

from __future__ import annotations

from pathlib import Path

from setuptools.command.build_py import build_py

PTH_FILE = "promptflow_lite-promptflow.pth"
PTH_LINE = (  # once per process, even when site-packages is added twice (a sitecustomize may do that)
    "import sys; any(type(f).__name__ == 'PromptflowLiteStartup' for f in sys.meta_path) or sys.meta_path.append("
    "type('PromptflowLiteStartup', (), {'find_spec': staticmethod(lambda name, path=None, target=None: "
    "__import__('promptflow_lite._compat', fromlist=['_']).find_spec_at_startup(name, path, target) "
    "if name == 'promptflow' or name.startswith('promptflow.') else None)})())\n"
)


class BuildPy(build_py):
    """``build_py`` that also writes the ``.pth`` file (into the editable wheel too)."""

    def run(self) -> None:
        super().run()
        folders = [Path(self.build_lib)]
        if self.editable_mode:  # an editable wheel is made of what lands in install_lib, not build_lib
            folders.append(Path(self.get_finalized_command("install").install_lib))
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / PTH_FILE).write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH_FILE)]
