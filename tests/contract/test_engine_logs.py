"""The engine never spells out bound parameters (issue 10, case 9): a failed statement's error,
which a traceback in the log would print, names its SQL but not the values bound to it (a
webhook's signing secret was once among them)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from events.log.database import create_engine

SECRET = "whsec_c2VjcmV0LW5vLWxvZy1tYXktaG9sZC10aGlz"


async def test_a_failed_statement_does_not_show_its_parameters(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as raised:
                await conn.execute(
                    text("SELECT * FROM no_such_table WHERE secret = :secret"), {"secret": SECRET}
                )
    finally:
        await engine.dispose()
    shown = str(raised.value)
    assert "no_such_table" in shown  # the error is there to read ...
    assert SECRET not in shown  # ... the secret is not
