"""A conflict's actors: every name its events give, each one actor, however it is spelled.

An actor is a party, a mediator or a declarer of an agreement or a declaration, an organization
running a mission, or one registered with ``actor.registered`` (with its kind and the other
spellings, its aliases, sources use). Names match without regard to case or accents
(``name_key``), so "Hizbollah", "hizbollah" and "Hizbollāh" are one spelling; an alias belongs
to one actor only.

``Actors`` is the part of a conflict's state that holds them (``events.model.state``): the rules
resolve each name a new event gives to its actor's canonical name through it
(``events.model.canonical``), and ``closest`` answers "did you mean…" for a name that is none.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

__all__ = ["ACTOR_KINDS", "Actor", "ActorKind", "Actors", "name_key"]

ActorKind = Literal["state", "armed_group", "international_organization", "ngo", "media", "other"]
ACTOR_KINDS: tuple[str, ...] = (
    "state",
    "armed_group",
    "international_organization",
    "ngo",
    "media",
    "other",
)


def name_key(name: str) -> str:
    """What two spellings of one name share: compatibility-decomposed (NFKD), without combining
    marks (accents), case-folded. ``name_key("Hézbollah") == name_key("HEZBOLLAH")``."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass(frozen=True, slots=True)
class Actor:
    """One actor of a conflict: its canonical name (the first spelling the log gave it), its
    kind (None until an ``actor.registered`` says), its aliases, and when it first appears (the
    earliest occurred_at of the events that name it as an actor)."""

    name: str
    since: datetime
    kind: str | None = None
    aliases: tuple[str, ...] = ()
    registered: bool = False


@dataclass(frozen=True, slots=True)
class Actors:
    """The actors of one conflict, by canonical name, and every spelling's key -> that name."""

    by_name: Mapping[str, Actor] = field(default_factory=dict)
    keys: Mapping[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str | None:
        """The canonical name of the actor ``name`` spells; None when it is no actor's."""
        if name in self.by_name:
            return name
        return self.keys.get(name_key(name))

    def named(self, names: Iterable[str], at: datetime) -> Actors:
        """With every one of ``names`` an actor (a new one for a name that spells none), first
        appearing by ``at``. The same object when nothing changes."""
        by_name: dict[str, Actor] | None = None
        keys: dict[str, str] | None = None
        for name in names:
            canonical = (keys if keys is not None else self.keys).get(name_key(name))
            current = (by_name if by_name is not None else self.by_name).get(canonical or "")
            if current is not None and current.since <= at:
                continue
            if by_name is None or keys is None:
                by_name, keys = dict(self.by_name), dict(self.keys)
            if current is not None:
                by_name[current.name] = replace(current, since=at)
            else:
                by_name[name] = Actor(name=name, since=at)
                keys[name_key(name)] = name
        if by_name is None or keys is None:
            return self
        return Actors(by_name, keys)

    def registered(self, name: str, kind: str, aliases: Iterable[str], at: datetime) -> Actors:
        """With ``name`` registered as of ``kind`` (its first registration, or a later one
        adding aliases). The caller checked the rules (``events.model.rules``)."""
        actors = self.named([name], at)
        canonical = actors.resolve(name)
        assert canonical is not None
        actor = actors.by_name[canonical]
        keys = dict(actors.keys)
        added = list(actor.aliases)
        for alias in aliases:
            key = name_key(alias)
            if key in keys:
                continue
            keys[key] = canonical
            added.append(alias)
        actor = replace(actor, kind=kind, aliases=tuple(added), registered=True)
        return Actors({**actors.by_name, canonical: actor}, keys)

    def closest(self, name: str, n: int = 3) -> list[str]:
        """The canonical names of the actors whose spellings are closest to ``name``."""
        matches = difflib.get_close_matches(name_key(name), list(self.keys), n=n * 2, cutoff=0.6)
        found: list[str] = []
        for key in matches:
            canonical = self.keys[key]
            if canonical not in found:
                found.append(canonical)
        return found[:n]
