"""Byte-faithful YAML editing: ruamel.yaml makes an edit, a line diff carries it onto the original text.

``YamlText(text).data`` is a round-trip tree (comments, key order and quotes kept) to edit in place;
``render()`` returns the original text with only the lines the edit concerns replaced. A plain ruamel
dump re-indents a file whose indentation style is mixed (many of promptflow's example flows), so the
edit is found as the difference between ruamel's dump of the tree before and after, and only that
difference is written into the original text, re-indented to match its neighbours there. The result
is parsed again and must equal the edited tree; if it did not, the whole dump is used instead
(``faithful`` is then False) — a save is never wrong, at worst not minimal.
"""

from __future__ import annotations

import difflib
import io
import re
from typing import Any

_SPACES = re.compile(r"\s+")


class YamlSyntaxError(ValueError):
    """The text is not YAML ruamel can edit; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


class YamlText:
    """One YAML file's text and its editable round-trip tree."""

    def __init__(self, text: str):
        self.text = text
        self._yaml = _round_trip_yaml(text)
        try:
            self.data = self._yaml.load(text)
        except Exception as exc:  # ruamel raises many types; all mean "cannot edit this text"
            mark = getattr(exc, "problem_mark", None)
            raise YamlSyntaxError(f"Invalid YAML: {getattr(exc, 'problem', None) or exc}",
                                  mark.line + 1 if mark else None) from None
        self._base = self.dump()
        self.faithful = True

    def dump(self) -> str:
        """ruamel's own rendering of the tree as it is now."""
        out = io.StringIO()
        self._yaml.dump(self.data, out)
        return out.getvalue()

    def render(self) -> str:
        """The original text with the edits made to ``data`` spliced in (unchanged: the text itself)."""
        edited = self.dump()
        if edited == self._base:
            self.faithful = True
            return self.text
        spliced = splice(self.text, self._base, edited)
        self.faithful = _same(self._yaml.load(spliced) if spliced is not None else None, self.data)
        return spliced if self.faithful else edited

    def load(self, text: str) -> Any:
        return self._yaml.load(text)


def _round_trip_yaml(text: str):
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 100_000  # never fold a long line
    mapping, sequence, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _guess_indent(text: str) -> tuple[int, int, int]:
    """ruamel's ``(mapping, sequence, offset)`` indents as the first nested mapping and sequence of ``text``
    use them (ruamel's dump then needs few shifts; the splice copes with any difference)."""
    mapping = offset = None
    parent_indent, parent_opens = 0, False
    for line in text.splitlines():
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        if parent_opens:
            if stripped.startswith("- ") and offset is None:
                offset = indent - parent_indent
            elif not stripped.startswith("- ") and mapping is None and indent > parent_indent:
                mapping = indent - parent_indent
        if mapping is not None and offset is not None:
            break
        parent_indent, parent_opens = indent, stripped.split(" #")[0].rstrip().endswith(":")
    mapping = mapping if mapping and mapping > 0 else 2
    offset = offset if offset and offset > 0 else 0
    return mapping, max(mapping, offset + 2), offset


def splice(original: str, base: str, edited: str) -> str | None:
    """``original`` with the line changes from ``base`` to ``edited`` applied (None when they cannot be placed).

    ``base`` is ruamel's rendering of ``original``: lines equal but for whitespace are matched one to one,
    the rest in groups; a change touching part of a group replaces the whole group.
    """
    o_lines, a_lines, b_lines = (s.splitlines(keepends=True) for s in (original, base, edited))
    if o_lines and not o_lines[-1].endswith("\n") and a_lines:  # ruamel always ends with a newline
        o_lines[-1] += "\n"
        trailing_newline = False
    else:
        trailing_newline = True
    units = _units(o_lines, a_lines)  # per base line: (first base line, end base line, original slice)
    unit_of = {}
    for unit in units:
        for i in range(unit[0], unit[1]):
            unit_of[i] = unit
    hunks = _hunks(a_lines, b_lines, unit_of)
    newline = "\r\n" if o_lines and o_lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    a_pos = 0
    for a1, a2, b1, b2 in hunks:
        out += _original_between(units, a_pos, a1, o_lines)
        new = _reindented(a_lines, b_lines, o_lines, a1, a2, b1, b2, unit_of)
        out += [line[:-1] + newline if newline != "\n" and line.endswith("\n") else line for line in new]
        a_pos = a2
    out += _original_between(units, a_pos, len(a_lines), o_lines, tail=True)
    text = "".join(out)
    if not trailing_newline and text.endswith("\n"):
        text = text[:-1]
    return text


def _norm(line: str) -> str:
    return _SPACES.sub("", line)


def _units(o_lines: list[str], a_lines: list[str]) -> list[tuple[int, int, int, int]]:
    """Units ``(a1, a2, o1, o2)`` covering both texts in order: matched lines one by one, the rest grouped."""
    matcher = difflib.SequenceMatcher(None, [_norm(x) for x in a_lines], [_norm(x) for x in o_lines], autojunk=False)
    units = []
    for tag, a1, a2, o1, o2 in matcher.get_opcodes():
        if tag == "equal":
            units += [(a1 + k, a1 + k + 1, o1 + k, o1 + k + 1) for k in range(a2 - a1)]
        else:
            units.append((a1, a2, o1, o2))
    return units


def _hunks(a_lines, b_lines, unit_of) -> list[tuple[int, int, int, int]]:
    """Changed ranges ``(a1, a2, b1, b2)``, widened to whole units and merged when they touch."""
    matcher = difflib.SequenceMatcher(None, a_lines, b_lines, autojunk=False)
    hunks: list[list[int]] = []
    for tag, a1, a2, b1, b2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        first = unit_of.get(a1) if a2 > a1 else None
        last = unit_of.get(a2 - 1) if a2 > a1 else None
        if a2 == a1 and 0 < a1 < len(a_lines) and unit_of[a1 - 1] is unit_of[a1]:
            first = last = unit_of[a1]  # an insertion inside a group
        if first is not None:  # outside hunks, base and edited match line for line
            b1 -= a1 - first[0]
            b2 += last[1] - a2
            a1, a2 = first[0], last[1]
        if hunks and a1 <= hunks[-1][1]:
            merged_a2 = max(a2, hunks[-1][1])
            hunks[-1][1], hunks[-1][3] = merged_a2, merged_a2 + (b2 - a2)
        else:
            hunks.append([a1, a2, b1, b2])
    return [tuple(h) for h in hunks]


def _original_between(units, a_from: int, a_to: int, o_lines, tail: bool = False) -> list[str]:
    """The original lines of the units of base lines ``[a_from, a_to)``, and original-only groups in that span."""
    out = []
    for a1, a2, o1, o2 in units:
        inside = a_from <= a1 < a_to or (a1 == a2 and (a_from < a1 < a_to or (a1 == a_from and a1 != a_to)
                                                      or (tail and a1 == a_to)))
        if inside:
            out += o_lines[o1:o2]
    return out


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _shift(line: str, delta: int) -> str:
    if not line.strip() or delta == 0:
        return line
    return " " * max(0, _indent(line) + delta) + line.lstrip(" ")


def _reindented(a_lines, b_lines, o_lines, a1, a2, b1, b2, unit_of) -> list[str]:
    """``b_lines[b1:b2]`` in the original's indentation: line by line when the hunk replaces matched lines
    one for one, else shifted as a block like its nearest sibling (or parent) in the original."""
    new = b_lines[b1:b2]
    if a2 - a1 == b2 - b1 and all(unit_of[i][1] - unit_of[i][0] == 1 and unit_of[i][3] - unit_of[i][2] == 1
                                  for i in range(a1, a2)):
        return [_shift(line, _indent(o_lines[unit_of[a1 + k][2]]) - _indent(a_lines[a1 + k]))
                for k, line in enumerate(new)]
    first = next((line for line in new if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        return new
    delta = _anchor_delta(a_lines, o_lines, a1, a2, _indent(first), unit_of)
    return [_shift(line, delta) for line in new]


def _anchor_delta(a_lines, o_lines, a1, a2, width: int, unit_of) -> int:
    """Indent difference original − base of the nearest matched line at ``width`` (a sibling), else of a
    shallower one (the parent) — before the hunk first, then after it."""
    def matched(i: int) -> bool:
        u = unit_of.get(i)
        return u is not None and u[1] - u[0] == 1 and u[3] - u[2] == 1 and a_lines[i].strip() != "" \
            and not a_lines[i].lstrip().startswith("#")

    def delta(i: int) -> int:
        return _indent(o_lines[unit_of[i][2]]) - _indent(a_lines[i])

    for wanted in (lambda w: w == width, lambda w: w < width):
        for i in list(range(a1 - 1, -1, -1)) + list(range(a2, len(a_lines))):
            if matched(i) and wanted(_indent(a_lines[i])):
                if _indent(a_lines[i]) < width and i >= a2:
                    continue  # a shallower line after the hunk is not its parent
                return delta(i)
    return 0


def _same(loaded: Any, data: Any) -> bool:
    return loaded is not None and _plain(loaded) == _plain(data)


def _plain(value: Any) -> Any:
    """Nested lists of (key, value) pairs: equality that also sees key order."""
    if isinstance(value, dict):
        return [(_plain(k), _plain(v)) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
