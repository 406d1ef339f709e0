"""The row each projection keeps for an event, built from the states before and after it: one
module per projection family (``agreements``, ``allegations``, ``missions``) and the source
JSON they share (``sources``). ``projections.fold.add_rows`` decides which rows an event makes;
these build them."""
