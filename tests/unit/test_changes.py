"""``Changes`` closes a row version inserted earlier in the same changes in place. It finds
it through an index; this holds it to the plain definition (scan the inserts, latest first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from projections.changes import Changes, Close

T0 = datetime(2022, 9, 1, tzinfo=UTC)

op = st.one_of(
    st.tuples(st.just("insert"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("close"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("merge"), st.integers(0, 3), st.booleans()),
)


def _row(key: int, n: int, closed: bool) -> dict[str, Any]:
    return {
        "conflict": "c",
        "mission_id": f"m-{key}",
        "n": n,
        "known_from": T0,
        "known_until": T0 if closed else None,
    }


class Reference:
    """The definition: a close scans the inserts, latest first, for an open version."""

    def __init__(self) -> None:
        self.closes: list[Close] = []
        self.inserts: list[tuple[str, dict[str, Any]]] = []

    def close(self, table: str, key: dict[str, Any], until: datetime) -> None:
        for pending, row in reversed(self.inserts):
            if (
                pending == table
                and row["known_until"] is None
                and all(row[k] == v for k, v in key.items())
            ):
                row["known_until"] = until
                return
        self.closes.append(Close(table, key, until))


@given(st.lists(op, max_size=40))
def test_closing_through_the_index_is_closing_by_scanning(ops: list[tuple[str, int, bool]]) -> None:
    changes, reference = Changes(), Reference()
    for n, (kind, key, flag) in enumerate(ops):
        until = T0 + timedelta(seconds=n)
        if kind == "insert":
            changes.insert("proj_missions", _row(key, n, flag))
            reference.inserts.append(("proj_missions", _row(key, n, flag)))
        else:
            name = {"conflict": "c", "mission_id": f"m-{key}"}
            if flag:  # a key with another column than the table's key: the scan path
                name = {**name, "n": n - 1}
            reference.close("proj_missions", name, until)
            if kind == "close":
                changes.close("proj_missions", name, until)
            else:  # a later event's changes: close the current version, insert the next
                later = Changes()
                later.close("proj_missions", name, until)
                later.insert("proj_missions", _row(key, n, False))
                changes.merge(later)
                reference.inserts.append(("proj_missions", _row(key, n, False)))
    assert changes.inserts == reference.inserts
    assert changes.closes == reference.closes
