"""A conflict's actors (``GET /v1/conflicts/{c}/actors``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from projections.views.base import AsOf, KnownAt, View

ActorRole = Literal["party", "mediator", "monitor"]


class ActorView(View):
    """One actor of the conflict: every spelling of its name, and what it is in the conflict
    at ``as_of``."""

    name: str = Field(description="Its canonical name: what every event stores.")
    kind: str | None = Field(
        description="`state`, `armed_group`, `international_organization`, `ngo`, `media` or "
        "`other`, as registered; null for an actor named by an agreement or a mission and "
        "never registered."
    )
    aliases: list[str] = Field(description="The other spellings registered for it.")
    registered: bool = Field(description="True once an `actor.registered` named it.")
    since: datetime = Field(description="When it first appears: the earliest event naming it.")
    roles: list[ActorRole] = Field(description="Its roles by as_of (none: a third party).")
    party_to: list[str] = Field(
        description="The agreements and declarations it is a party of (a declarer included)."
    )
    mediator_of: list[str] = Field(description="The agreements it mediates.")
    monitor_of: list[str] = Field(description="The missions it runs (or helps run).")


class ActorsView(View):
    """A conflict's actors: its parties, mediators, monitors and registered third parties."""

    conflict: str
    actors: list[ActorView] = Field(description="Every actor appearing by as_of, by name.")
    version: int
    position: int
    as_of: AsOf = None
    known_at: KnownAt = None
