"""Webhooks: new events pushed to subscribers, signed, retried, never lost.

- ``signing``: Standard Webhooks signatures, and the verification helper offered to receivers.
- ``cloudevents``: the body, a CloudEvents 1.0 structured JSON event.
- ``ssrf``: resolve-and-check, and the network backend that connects only to checked addresses.
- ``sender``: one attempt over HTTP; ``retry``: what follows it (pure).
- ``tables``, ``store`` (subscriptions), ``deliveries`` (the delivery log), ``queue`` (dispatch,
  claims), ``outcomes`` (the attempts' outcomes written).
- ``sealing``: secrets at rest, Fernet-sealed when ``CEASEFIRE_SECRET_KEY`` is set.
- ``dispatcher``: the log, from a checkpoint, into deliveries; ``worker``: the loops;
  ``recorder``: the outcomes written, one that cannot be stored kept from the rest;
  ``machinery``: the sender and a worker as a process holds and runs them.
"""
