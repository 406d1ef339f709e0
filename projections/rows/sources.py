"""A ``Source`` as the rows store it (JSON), remembered for the object a decoder hands out:
the allegation, report and mission rows all carry one, and a replay meets the same few
sources thousands of times.
"""

from __future__ import annotations

from events.model.values import Source

__all__ = ["source_json"]


#: The JSON of the last few ``Source`` objects seen, by identity (see ``source_json``).
_SOURCE_JSON: dict[int, tuple[Source, str]] = {}
_SOURCE_JSON_SIZE = 1024


def source_json(source: Source) -> str:
    """``source.model_dump_json(exclude_none=True)``, remembered for the very same object: a
    decoder of the log hands out one ``Source`` per distinct stored text (a log has few), so a
    replay dumps each once instead of once per event. The object is kept with its JSON, so its
    id cannot be reused while the entry exists."""
    entry = _SOURCE_JSON.get(id(source))
    if entry is not None and entry[0] is source:
        return entry[1]
    text = source.model_dump_json(exclude_none=True)
    if len(_SOURCE_JSON) >= _SOURCE_JSON_SIZE:
        _SOURCE_JSON.clear()
    _SOURCE_JSON[id(source)] = (source, text)
    return text
