"""Appliers group rows to insert by their columns (no database)."""

from __future__ import annotations

from projections.changes import by_columns


def test_rows_of_one_shape_are_read_in_the_first_rows_column_order() -> None:
    rows = [{"a": 1, "b": 2}, {"b": 4, "a": 3}]
    assert by_columns(rows) == {("a", "b"): [(1, 2), (3, 4)]}


def test_a_single_column_still_gives_tuples() -> None:
    assert by_columns([{"a": 1}, {"a": 2}]) == {("a",): [(1,), (2,)]}


def test_rows_of_other_shapes_are_grouped_apart() -> None:
    rows = [{"a": 1, "b": 2}, {"a": 3, "c": 4}, {"a": 5}]
    assert by_columns(rows) == {("a", "b"): [(1, 2)], ("a", "c"): [(3, 4)], ("a",): [(5,)]}
