"""The key-path -> line index built beside tomllib."""

from __future__ import annotations

import tomllib

from supporthub.policies.toml_lines import LineIndex

DOCUMENT = '''\
# a comment with [brackets] and key = "value"
title = "x"

[policy]
key = "a"   # trailing comment
"quoted key" = 1
dotted.inner = 2

[[severities]]
level = 1
description = """
[not_a_table]
fake = "not a key"
"""

[[severities]]
level = 2
description = \'\'\'
literal ''with quotes''\'\'\'

[severities.extra]
note = "belongs to the second severity"

[targets]
base = { 1 = "4 business hours", 2 = "none" }

[dse]
skus = [
  "first",   # comment, with a comma
  "second",
]
after = true
'''


def index() -> LineIndex:
    tomllib.loads(DOCUMENT)  # the index is only ever built for valid TOML
    return LineIndex(DOCUMENT)


def test_table_headers_and_keys_map_to_their_lines() -> None:
    lines = index()
    assert lines.line_of(("title",)) == 2
    assert lines.line_of(("policy",)) == 4
    assert lines.line_of(("policy", "key")) == 5
    assert lines.line_of(("policy", "quoted key")) == 6


def test_dotted_keys_map_every_part_to_their_line() -> None:
    lines = index()
    assert lines.line_of(("policy", "dotted")) == 7
    assert lines.line_of(("policy", "dotted", "inner")) == 7


def test_array_tables_are_indexed_by_position() -> None:
    lines = index()
    assert lines.line_of(("severities",)) == 9
    assert lines.line_of(("severities", 0)) == 9
    assert lines.line_of(("severities", 0, "level")) == 10
    assert lines.line_of(("severities", 1)) == 16
    assert lines.line_of(("severities", 1, "level")) == 17


def test_a_subtable_header_belongs_to_the_latest_array_element() -> None:
    lines = index()
    assert lines.line_of(("severities", 1, "extra")) == 21
    assert lines.line_of(("severities", 1, "extra", "note")) == 22


def test_multiline_strings_hide_lines_that_look_like_tables_and_keys() -> None:
    lines = index()
    assert ("not_a_table",) not in lines
    assert ("severities", 0, "fake") not in lines
    assert ("fake",) not in lines
    assert lines.line_of(("severities", 0, "description")) == 11


def test_inline_table_entries_fall_back_to_the_owning_key_line() -> None:
    lines = index()
    assert lines.line_of(("targets", "base", "2")) == 25


def test_multiline_array_elements_get_their_own_lines() -> None:
    lines = index()
    assert lines.line_of(("dse", "skus")) == 28
    assert lines.line_of(("dse", "skus", 0)) == 29
    assert lines.line_of(("dse", "skus", 1)) == 30
    assert lines.line_of(("dse", "after")) == 32


def test_unknown_paths_fall_back_to_the_nearest_ancestor_or_line_1() -> None:
    lines = index()
    assert lines.line_of(("policy", "missing")) == 4
    assert lines.line_of(("nowhere", "at", "all")) == 1
    assert lines.line_of(()) == 1


def test_nested_array_tables_index_within_their_parent_element() -> None:
    text = "[[a]]\nx = 1\n[[a.b]]\ny = 1\n[[a]]\n[[a.b]]\ny = 2\n[[a.b]]\ny = 3\n"
    tomllib.loads(text)
    lines = LineIndex(text)
    assert lines.line_of(("a", 0, "b", 0, "y")) == 4
    assert lines.line_of(("a", 1, "b", 0, "y")) == 7
    assert lines.line_of(("a", 1, "b", 1, "y")) == 9


def test_crlf_line_endings_count_lines_the_same() -> None:
    text = "[policy]\r\nkey = 1\r\n\r\nname = 2\r\n"
    tomllib.loads(text)
    assert LineIndex(text).line_of(("policy", "name")) == 4
