"""Line numbers of the keys of a TOML document, which tomllib parses but does not locate.

Only ever run on text tomllib has accepted, so the scanner can trust the syntax.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_right

KeyPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


class LineIndex:
    """Maps key paths (array-of-tables and array elements by index) to 1-based lines."""

    def __init__(self, text: str) -> None:
        self._lines = _Scanner(text).run()

    def line_of(self, path: KeyPath) -> int:
        """The line of `path`, else of its nearest written ancestor, else 1."""
        while path:
            if path in self._lines:
                return self._lines[path]
            path = path[:-1]
        return 1

    def __contains__(self, path: KeyPath) -> bool:
        return path in self._lines


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[KeyPath, int] = {}
        self.array_sizes: dict[KeyPath, int] = {}  # array of tables -> elements so far
        self.table: KeyPath = ()

    def run(self) -> dict[KeyPath, int]:
        text = self.text
        while True:
            self._skip_blank_lines()
            if self.pos >= len(text):
                return self.lines
            line = self._line()
            if text.startswith("[[", self.pos):
                self.pos += 2
                self._array_table(self._key(), line)
                self.pos += 2
            elif text[self.pos] == "[":
                self.pos += 1
                self._table(self._key(), line)
                self.pos += 1
            else:
                path = self.table + tuple(self._key())
                self._record(path, line)
                self._skip_spaces()
                self.pos += 1  # "="
                self._skip_spaces()
                self._value(path)
            self._skip_to_line_end()

    def _line(self, pos: int | None = None) -> int:
        return bisect_right(self.line_starts, self.pos if pos is None else pos)

    def _record(self, path: KeyPath, line: int) -> None:
        for end in range(1, len(path)):
            self.lines.setdefault(path[:end], line)
        self.lines[path] = line

    def _resolve(self, keys: list[str]) -> KeyPath:
        # A header below an array of tables names its latest element: [[a]] then [a.b] is a[-1].b.
        path: KeyPath = ()
        for key in keys:
            path += (key,)
            if path in self.array_sizes:
                path += (self.array_sizes[path] - 1,)
        return path

    def _table(self, keys: list[str], line: int) -> None:
        self.table = self._resolve(keys)
        self._record(self.table, line)

    def _array_table(self, keys: list[str], line: int) -> None:
        array = self._resolve(keys[:-1]) + (keys[-1],)
        index = self.array_sizes.get(array, 0)
        self.array_sizes[array] = index + 1
        self.lines.setdefault(array, line)
        self.table = array + (index,)
        self._record(self.table, line)

    def _key(self) -> list[str]:
        text = self.text
        parts: list[str] = []
        while True:
            self._skip_spaces()
            start = self.pos
            if text[start] == '"':
                self._skip_string()
                parts.append(tomllib.loads(f"k = {text[start : self.pos]}")["k"])
            elif text[start] == "'":
                self.pos = text.index("'", start + 1) + 1
                parts.append(text[start + 1 : self.pos - 1])
            else:
                match = _BARE_KEY.match(text, start)
                if match is None:
                    raise ValueError(f"not a TOML key at line {self._line()}")
                parts.append(match.group())
                self.pos = match.end()
            self._skip_spaces()
            if self.pos < len(text) and text[self.pos] == ".":
                self.pos += 1
                continue
            return parts

    def _value(self, path: KeyPath) -> None:
        # Elements of a multi-line array get their own lines, so "windows[1]" points at its line.
        text = self.text
        is_array = text.startswith("[", self.pos)
        depth = 0
        element = 0
        expect_element = False
        while self.pos < len(text):
            char = text[self.pos]
            if is_array and depth == 1 and expect_element and char not in " \t\r\n,#]":
                self.lines[(*path, element)] = self._line()
                expect_element = False
            if char in "\"'":
                self._skip_string()
                continue
            if char == "#":
                self._skip_comment()
                continue
            if char == "\n" and depth == 0:
                return
            if char in "[{":
                depth += 1
                if depth == 1:
                    expect_element = True
            elif char in "]}":
                depth -= 1
            elif char == "," and depth == 1:
                element += 1
                expect_element = True
            self.pos += 1

    def _skip_string(self) -> None:
        text = self.text
        quote = text[self.pos]
        if text.startswith(quote * 3, self.pos):
            self.pos += 3
            while not text.startswith(quote * 3, self.pos):
                self.pos += 2 if quote == '"' and text[self.pos] == "\\" else 1
            self.pos += 3
            # Up to two quotes may end the content right before the closing delimiter.
            for _ in range(2):
                if self.pos < len(text) and text[self.pos] == quote:
                    self.pos += 1
            return
        self.pos += 1
        while text[self.pos] != quote:
            self.pos += 2 if quote == '"' and text[self.pos] == "\\" else 1
        self.pos += 1

    def _skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _skip_to_line_end(self) -> None:
        self._skip_spaces()
        if self.pos < len(self.text) and self.text[self.pos] == "#":
            self._skip_comment()

    def _skip_blank_lines(self) -> None:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r\n":
                self.pos += 1
            elif char == "#":
                self._skip_comment()
            else:
                return
