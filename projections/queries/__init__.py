"""Reads of the projection tables, one module per view: ``status`` (a conflict's status and
the list of conflicts), ``allegations`` (a conflict's allegations); ``shared`` holds what both
read first.

Every read takes ``as_of`` (the state of the world at that time, by occurred_at) and
``known_at`` (what the log said at that time, by recorded_at; None for now). Each is a handful
of indexed lookups on the projection tables, never a replay: their cost depends on the size of
one conflict's current agreement, not on the length of the log.

The head (version, position) is read first, so the data returned is never older than the
position it is tagged with.
"""
