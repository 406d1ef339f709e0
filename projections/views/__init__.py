"""The read models the API returns. The states they carry are derived in
``projections.standing``; the queries gather its inputs with indexed lookups, so their cost
does not grow with the log. One module per view (``status``, ``allegations``, ``actors``,
``timeline``), what an agreement shows in ``agreements``, what they share in ``base``; all of
them here."""

from projections.views.actors import ActorRole, ActorsView, ActorView
from projections.views.agreements import (
    AgreementView,
    ContestTally,
    DeadlineView,
    DisputeView,
    ExtensionView,
    LullView,
    MilestoneExtensionView,
    MilestoneView,
    ReportedTotals,
    ReportView,
    ScopeView,
    WithdrawalView,
)
from projections.views.allegations import (
    AgreementAllegations,
    AllegationsView,
    AllegationView,
    CasualtySum,
    CasualtyTotals,
    OutsideAgreements,
)
from projections.views.base import (
    AgreementStateName,
    AsOf,
    ConflictState,
    Duration,
    KnownAt,
    Role,
    View,
)
from projections.views.status import (
    ConflictSummary,
    DescriptionView,
    MissionView,
    PartyCounts,
    StatusView,
    tally,
)
from projections.views.timeline import TimelineEntry, TimelineNote, TimelineView

__all__ = [
    "ActorRole",
    "ActorView",
    "ActorsView",
    "AgreementAllegations",
    "AgreementStateName",
    "AgreementView",
    "AllegationView",
    "AllegationsView",
    "AsOf",
    "CasualtySum",
    "CasualtyTotals",
    "ConflictState",
    "ConflictSummary",
    "ContestTally",
    "DeadlineView",
    "DescriptionView",
    "DisputeView",
    "Duration",
    "ExtensionView",
    "KnownAt",
    "LullView",
    "MilestoneExtensionView",
    "MilestoneView",
    "MissionView",
    "OutsideAgreements",
    "PartyCounts",
    "ReportView",
    "ReportedTotals",
    "Role",
    "ScopeView",
    "StatusView",
    "TimelineEntry",
    "TimelineNote",
    "TimelineView",
    "View",
    "WithdrawalView",
    "tally",
]
