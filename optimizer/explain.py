"""Explain a schedule: why needs went unmet, what each rule cost, and what would fix it.

Three answers, each computed from the scenario and the schedule as written, so they hold for
a hand-made schedule as much as for a solved one:

* :func:`unmet_reasons` / :func:`explain_unmet`: every unmet need with the chain of filters
  that left it no option, in words with ids, days and times (program time); the same
  :class:`~optimizer.reasons.ReasonAnalysis` fills ``unmet[].reasons`` of a solved schedule.
* :func:`score_breakdown`: the value of each objective level and soft family, with the
  participants and sessions behind each penalty.
* :func:`suggest`: single what-if changes to the scenario (one more start time, a longer
  availability window, one more licensed state, a larger group), generated from the
  reasons, each measured by re-solving the changed scenario with the same parameters and
  ranked by the priority-weighted sessions it gains, within a time budget.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from models.clock import (
    DAY_INDEX,
    DAYS,
    MINUTES_PER_DAY,
    WeekClock,
    format_time,
    merge_intervals,
    parse_time,
    parse_window,
)
from models.scenario import Scenario, quote
from models.schedule import Schedule, UnmetNeed
from optimizer.check import CheckReport, check
from optimizer.data import AppointmentSpec, ProblemData, build_problem_data
from optimizer.inputs import as_pair, as_scenario, as_schedule
from optimizer.reasons import REASON_TITLES, NeedExplanation, Reason, ReasonAnalysis, span, when
from optimizer.result import Result, SolveParams

__all__ = [
    "Change",
    "Explanation",
    "FamilyScore",
    "ScoreBreakdown",
    "Suggestion",
    "SuggestionReport",
    "apply_change",
    "candidate_changes",
    "explain",
    "explain_unmet",
    "score_breakdown",
    "solve_changed",
    "suggest",
    "unmet_reasons",
]

ChangeKind = Literal["open_start", "extend_availability", "license", "raise_size"]
#: ``(scenario, params, warm_from) -> Result``: a solve, warm-started from a schedule or not.
Solver = Callable[[Scenario, SolveParams, Schedule | None], Result]

_MAX_EXTENSION_MINUTES = 120  # "extend a window by 1-2 h": longer extensions are new shifts


# --------------------------------------------------------------------------- reasons


def explain_unmet(
    scenario: Scenario,
    schedule: Schedule,
    *,
    data: ProblemData | None = None,
    report: CheckReport | None = None,
) -> list[NeedExplanation]:
    """Every unmet need of a schedule with its reasons and their codes.

    Parameters
    ----------
    scenario
        The validated scenario.
    schedule
        Its schedule, solved or hand-made. Which needs are unmet is recomputed from the
        sessions by the independent checker, not read from ``schedule.unmet``.
    data
        Problem data of ``scenario`` if already built.
    report
        ``check(scenario, schedule)`` if already run.

    Returns
    -------
    list of NeedExplanation
        Ordered as a schedule file lists ``unmet``: by participant id, then need.
    """
    scenario, schedule = as_pair(scenario, schedule, "explain_unmet")
    report = report if report is not None else check(scenario, schedule)
    analysis = ReasonAnalysis(data if data is not None else build_problem_data(scenario), schedule.sessions)
    # The schedule file's order: by participant id, then need.
    return analysis.explain_all(sorted(report.unmet, key=lambda item: (item[0], item[1])))


def unmet_reasons(scenario: Scenario, schedule: Schedule) -> list[UnmetNeed]:
    """Every unmet need of a schedule, with reasons in words, as the schedule file lists them.

    The same analysis fills ``unmet[].reasons`` when :func:`optimizer.solve` writes a schedule.
    """
    return [
        UnmetNeed(participant=e.participant, need=e.need, missing=e.missing, reasons=[r.text for r in e.reasons])
        for e in explain_unmet(scenario, schedule)
    ]


# --------------------------------------------------------------------------- score breakdown


@dataclass(frozen=True)
class FamilyScore:
    """One soft family of the objective: its quantity, weight, penalty and what is behind it.

    ``penalty = weight * quantity`` in the documented units (hours, days, counts); for
    ``coverage`` the quantity is the priority-weighted sessions *not* delivered.
    """

    name: str
    level: int
    quantity: float
    unit: str
    weight: int
    penalty: float
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreBreakdown:
    """Objective levels (1 coverage, 2 minimums, 3 quality, 4 cost) and their soft families."""

    coverage: float
    needed: float
    levels: dict[str, float]
    families: tuple[FamilyScore, ...]
    hard_violations: int

    def family(self, name: str) -> FamilyScore:
        """The family with this name."""
        return next(f for f in self.families if f.name == name)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "coverage": self.coverage,
            "needed": self.needed,
            "levels": dict(self.levels),
            "hard_violations": self.hard_violations,
            "families": [{**asdict(f), "items": list(f.items)} for f in self.families],
        }


def _minutes(start: str, end: str) -> int | None:
    try:
        first = parse_time(start)
        last = 24 * 60 if end == "24:00" else parse_time(end)
    except ValueError:
        return None
    return last - first if last > first else None


def score_breakdown(scenario: Scenario, schedule: Schedule, *, report: CheckReport | None = None) -> ScoreBreakdown:
    """The value of each objective level and soft family of a schedule, with who is behind it.

    Figures are the checker's recomputation (:attr:`optimizer.check.CheckReport.levels`) of
    the sessions as written; the items name the participants, therapists and sessions
    behind each penalty.
    """
    scenario, schedule = as_scenario(scenario, "score_breakdown"), as_schedule(schedule, "score_breakdown")
    report = report if report is not None else check(scenario, schedule)
    levels = report.levels
    weights = scenario.objective
    participants = {p.id: p for p in scenario.participants}

    minutes_of: dict[str, int] = defaultdict(int)
    days_of: dict[str, set[str]] = defaultdict(set)
    therapist_minutes: dict[str, int] = defaultdict(int)
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    non_preferred: list[str] = []
    sessions_by_kind: dict[str, int] = defaultdict(int)
    for session in schedule.sessions:
        sessions_by_kind[session.group_type if session.kind == "group" and session.group_type else session.kind] += 1
        minutes = _minutes(session.start, session.end)
        if minutes is None:
            continue
        therapist_minutes[session.therapist] += minutes
        for ident in dict.fromkeys(session.participants):
            person = participants.get(ident)
            if person is None:
                continue
            minutes_of[ident] += minutes
            days_of[ident].add(session.day)
            if session.kind == "group" and session.group_type and session.therapist not in seen[ident, session.group_type]:
                seen[ident, session.group_type].append(session.therapist)
            if person.preferred_therapists and session.therapist not in person.preferred_therapists:
                non_preferred.append(
                    f"{session.id} ({session.group_type or quote(session.kind, bare=True)}, {session.day.capitalize()} {session.start}, "
                    f"{session.therapist}): {ident} prefers {', '.join(person.preferred_therapists)}"
                )

    unmet_items = []
    for ident, need, missing in report.unmet:
        priority = participants[ident].priority if ident in participants else 1
        unmet_items.append(f"{ident} {quote(need, bare=True)}: {missing} missing (priority {priority})")
    hours_items, days_items = [], []
    for person in scenario.participants:
        got = minutes_of.get(person.id, 0) / 60
        if got < person.hours_per_week.min - 1e-9:
            hours_items.append(f"{person.id}: {got:g} h of hours_per_week.min {person.hours_per_week.min:g} h")
        days = len(days_of.get(person.id, ()))
        if days < person.days_per_week.min:
            days_items.append(f"{person.id}: {days} day(s) of days_per_week.min {person.days_per_week.min}")
    continuity_items = [
        f"{ident} {group}: {', '.join(therapists)}" for (ident, group), therapists in sorted(seen.items()) if len(therapists) > 1
    ]
    loads = {t.id: therapist_minutes.get(t.id, 0) / 60 for t in scenario.therapists}
    average = sum(loads.values()) / len(loads) if loads else 0.0
    busiest = sorted(loads.items(), key=lambda item: (-item[1], item[0]))
    load_items = [f"{ident}: {hours:g} h" for ident, hours in busiest[:3]] + ([f"average: {average:.2f} h"] if loads else [])
    hours_items_t = [f"{ident}: {hours:g} h" for ident, hours in busiest if hours > 0]

    def family(name: str, level: int, quantity: float, unit: str, weight: int, items: Sequence[str]) -> FamilyScore:
        return FamilyScore(name, level, round(quantity, 4), unit, weight, round(weight * quantity, 4), tuple(items))

    coverage, needed = levels.get("coverage", 0.0), levels.get("needed", 0.0)
    families = (
        family("coverage", 1, needed - coverage, "priority-weighted sessions not delivered", 1, unmet_items),
        family("hours_shortfall", 2, levels.get("hours_shortfall_minutes", 0.0) / 60, "hours below hours_per_week.min", weights.hours_shortfall, hours_items),
        family("days_shortfall", 2, levels.get("days_shortfall", 0.0), "days below days_per_week.min", weights.days_shortfall, days_items),
        family("continuity", 3, levels.get("continuity_extra_therapists", 0.0), "extra therapists per participant and group type", weights.continuity, continuity_items),
        family("preferred_therapist", 3, levels.get("non_preferred_sessions", 0.0), "sessions with a non-preferred therapist", weights.preferred_therapist, non_preferred),
        family("load_balance", 3, levels.get("load_balance_hours", 0.0), "hours of the busiest therapist", weights.load_balance, load_items),
        family("sessions", 4, levels.get("sessions", 0.0), "sessions run", weights.sessions, [f"{quote(kind, bare=True)}: {count}" for kind, count in sorted(sessions_by_kind.items())]),
        family("therapist_hours", 4, levels.get("therapist_minutes", 0.0) / 60, "therapist hours", weights.therapist_hours, hours_items_t),
    )
    level_values = {
        "coverage": coverage,
        "minimums": sum(f.penalty for f in families if f.level == 2),
        "quality": sum(f.penalty for f in families if f.level == 3),
        "cost": sum(f.penalty for f in families if f.level == 4),
    }
    return ScoreBreakdown(coverage, needed, {k: round(v, 4) for k, v in level_values.items()}, families, len(report.violations))


# --------------------------------------------------------------------------- what-if changes


@dataclass(frozen=True)
class Change:
    """One change to a scenario, described in words with ids.

    Attributes
    ----------
    kind
        ``open_start`` (``group_type`` gains ``start``), ``extend_availability`` (``therapist``
        gains ``window`` on ``day``, both in the therapist's own clock), ``license``
        (``therapist`` gains ``state``) or ``raise_size`` (``group_type``'s ``size.max`` + 1).
    description
        What to do, in words an operations person can act on.
    estimate
        Priority-weighted missing sessions of the unmet needs the change targets (a ranking
        hint before any re-solve).
    targets
        The unmet needs it targets, as ``"P0001 process"`` (words for people: a need that is
        not id-shaped is shown as :func:`models.scenario.quote` describes it).
    title
        The change alone (``license T04 in NJ``); ``description`` adds what it aims at.
    """

    kind: ChangeKind
    description: str
    group_type: str | None = None
    start: str | None = None
    therapist: str | None = None
    day: str | None = None
    window: str | None = None
    state: str | None = None
    estimate: float = 0.0
    targets: tuple[str, ...] = ()
    title: str = ""

    @property
    def key(self) -> tuple[str | None, ...]:
        """What identifies the change, whatever its description or estimate."""
        return (self.kind, self.group_type, self.start, self.therapist, self.day, self.window, self.state)


def apply_change(scenario: Scenario, change: Change) -> Scenario:
    """A copy of the scenario with one change applied (the original is untouched).

    Raises
    ------
    ValueError
        If the change names something the scenario does not have, or the result is not a
        valid scenario.
    """
    raw = scenario.model_dump(mode="json")
    if change.kind in ("open_start", "raise_size"):
        group = next((g for g in raw["group_types"] if g["id"] == change.group_type), None)
        if group is None:
            raise ValueError(f"no group type {change.group_type!r}")
        if change.kind == "open_start":
            if not group.get("start_times") or change.start is None:
                raise ValueError(f"{change.group_type} has no start_times list to extend")
            group["start_times"] = sorted({*group["start_times"], change.start}, key=parse_time)
        else:
            group["size"]["max"] += 1
    else:
        therapist = next((t for t in raw["therapists"] if t["id"] == change.therapist), None)
        if therapist is None:
            raise ValueError(f"no therapist {change.therapist!r}")
        if change.kind == "license":
            if change.state is None:
                raise ValueError("a license change needs a state")
            therapist["licensed_states"] = sorted({*therapist["licensed_states"], change.state})
        else:
            if change.day is None or change.window is None:
                raise ValueError("an availability change needs a day and a window")
            windows = [parse_window(w) for w in therapist["availability"].get(change.day, [])]
            merged = merge_intervals([*windows, parse_window(change.window)])
            therapist["availability"][change.day] = [f"{format_time(a)}-{format_time(b)}" for a, b in merged]
    return Scenario.model_validate(raw)


def _local_window(clock: WeekClock, timezone: str | None, start: int, end: int) -> tuple[str, str] | None:
    """``(day, "HH:MM-HH:MM")`` in ``timezone`` of program minutes ``[start, end)``, if on one day."""
    first = clock.to_local(start, timezone)
    last = clock.to_local(end, timezone)
    day = (first.date() - clock.week_start).days
    if not 0 <= day < 7:
        return None
    end_minute = last.hour * 60 + last.minute
    if last.date() != first.date():
        if end_minute != 0 or (last.date() - first.date()).days != 1:
            return None
        end_minute = MINUTES_PER_DAY
    start_minute = first.hour * 60 + first.minute
    if end_minute <= start_minute:
        return None
    return DAYS[day], f"{format_time(start_minute)}-{format_time(end_minute)}"


def candidate_changes(scenario: Scenario, explanations: Sequence[NeedExplanation], *, data: ProblemData | None = None) -> list[Change]:
    """Single changes targeted at the reasons of the unmet needs, best estimate first.

    Each unmet need proposes the changes that would lift its reasons: a start time of its
    group type inside its windows, a therapist's window extended by at most two hours to
    cover one of its possible starts or slots, a qualified therapist licensed in its state,
    and one more seat where sessions are full. A change's estimate is the priority-weighted
    missing sessions of all the needs that propose it.
    """
    data = data if data is not None else build_problem_data(scenario)
    index = {pid: i for i, pid in enumerate(data.participant_ids)}
    groups = {g.id: (i, g) for i, g in enumerate(scenario.group_types)}
    program = scenario.program
    clock = data.clock
    score: dict[tuple[str | None, ...], float] = defaultdict(float)
    targets: dict[tuple[str | None, ...], list[str]] = defaultdict(list)
    made: dict[tuple[str | None, ...], Change] = {}
    specs_of: dict[tuple[int, str], list[AppointmentSpec]] = defaultdict(list)
    for spec in data.appointments:
        specs_of[spec.participant, spec.kind].append(spec)

    def propose(change: Change, weight: float, target: str) -> None:
        key = change.key
        made.setdefault(key, change)
        if target not in targets[key]:
            targets[key].append(target)
            score[key] += weight

    def covered(prefix_row: Sequence[int], start: int, end: int) -> int:
        return int(prefix_row[end] - prefix_row[start])

    def extend(t: int, start: int, end: int, weight: float, target: str) -> None:
        therapist = scenario.therapists[t]
        available = data.therapist_available[t]
        missing = (end - start) - covered(available, start, end)
        if not 0 < missing <= _MAX_EXTENSION_MINUTES:
            return
        local = _local_window(clock, therapist.timezone, start, end)
        if local is None:
            return
        day, window = local
        zone = "" if therapist.timezone in (None, program.timezone) else f" ({day} {window} in {therapist.timezone})"
        text = f"add {span(start, end)} (program time{zone}) to {therapist.id}'s availability, {missing} min more"
        propose(Change("extend_availability", "", title=text, therapist=therapist.id, day=day, window=window), weight, target)

    for explanation in explanations:
        p = index.get(explanation.participant)
        if p is None:
            continue
        person = scenario.participants[p]
        weight = float(explanation.priority * explanation.missing)
        target = f"{explanation.participant} {quote(explanation.need, bare=True)}"
        codes = {reason.code for reason in explanation.reasons}
        if codes & {"not_eligible", "size_cap_below_min", "no_start", "clock_change", "no_qualified_therapist"}:
            continue
        if explanation.need in groups:
            g, group = groups[explanation.need]
            duration = group.duration_minutes
            days = [DAY_INDEX[d] for d in (group.days or program.days) if d in program.days]
            prefix = data.participant_available[p]
            qualified = [
                t for t, th in enumerate(scenario.therapists)
                if set(group.requires_qualifications) <= set(th.qualifications) and th.id not in person.avoid_therapists
            ]
            existing = {parse_time(s) for s in group.start_times} if group.start_times else None
            # One more start time inside this participant's windows, where a therapist is free.
            if existing is not None:
                for minute in range(data.hours_start, data.hours_end - duration + 1, program.slot_minutes):
                    if minute in existing:
                        continue
                    fits = [
                        d for d in days
                        if covered(prefix, d * MINUTES_PER_DAY + minute, d * MINUTES_PER_DAY + minute + duration) == duration
                        and any(
                            data.may_see[t, p]
                            and covered(data.therapist_available[t], d * MINUTES_PER_DAY + minute, d * MINUTES_PER_DAY + minute + duration) == duration
                            for t in qualified
                        )
                    ]
                    if fits:
                        start = format_time(minute)
                        text = f"open a {group.id} start at {start} (program time) on {', '.join(group.days or program.days)}"
                        propose(Change("open_start", "", title=text, group_type=group.id, start=start), weight, target)
            starts = [
                d * MINUTES_PER_DAY + m
                for d in days
                for m in (sorted(existing) if existing is not None else range(data.hours_start, data.hours_end - duration + 1, program.slot_minutes))
                if data.hours_start <= m and m + duration <= data.hours_end
            ]
            inside = [s for s in starts if covered(prefix, s, s + duration) == duration]
            for t in qualified:
                therapist = scenario.therapists[t]
                # A license in this participant's state, for a qualified therapist free at one of its starts.
                if person.state not in therapist.licensed_states:
                    free = [s for s in inside if covered(data.therapist_available[t], s, s + duration) == duration]
                    if free:
                        factor = 1.0 if codes & {"not_licensed", "therapist_unavailable", "session_rule"} else 0.5
                        text = f"license {therapist.id} in {person.state}"
                        propose(Change("license", "", title=text, therapist=therapist.id, state=person.state), weight * factor, target)
                elif data.may_see[t, p]:
                    for s in inside:
                        extend(t, s, s + duration, weight, target)
            if "session_full" in codes:
                text = f"raise the {group.id} size limit from {group.size.max} to {group.size.max + 1}"
                propose(Change("raise_size", "", title=text, group_type=group.id), weight, target)
        else:
            for spec in specs_of.get((p, explanation.need), []):
                appointment = person.appointments[spec.position]
                if appointment.therapist is not None:
                    pool = [data.therapist_ids.index(appointment.therapist)]
                else:
                    pool = [t for t, th in enumerate(scenario.therapists) if appointment.qualification in th.qualifications]
                pool = [t for t in pool if scenario.therapists[t].id not in person.avoid_therapists]
                own = data.participant_available[p]
                windows = None
                if appointment.availability is not None:
                    windows = clock.windows_to_program({str(k): list(v) for k, v in appointment.availability.items()}, person.timezone)
                slots = []
                for d in data.program_days:
                    for minute in range(data.hours_start, data.hours_end - spec.duration + 1, program.slot_minutes):
                        s = d * MINUTES_PER_DAY + minute
                        e = s + spec.duration
                        if covered(own, s, e) != e - s:
                            continue
                        if windows is not None and not any(a <= s and e <= b for a, b in windows):
                            continue
                        slots.append(s)
                for t in pool:
                    therapist = scenario.therapists[t]
                    if person.state not in therapist.licensed_states:
                        free = [s for s in slots if covered(data.therapist_available[t], s, s + spec.duration) == spec.duration]
                        if free or appointment.therapist is not None:
                            text = f"license {therapist.id} in {person.state}"
                            propose(Change("license", "", title=text, therapist=therapist.id, state=person.state), weight, target)
                    else:
                        for s in slots:
                            extend(t, s, s + spec.duration, weight, target)
    changes = [
        replace(change, estimate=score[key], targets=tuple(targets[key]), description=_described(change.title, targets[key]))
        for key, change in made.items()
    ]
    changes.sort(key=lambda c: (-c.estimate, c.kind, c.description))
    return changes


def _described(title: str, targets: Sequence[str]) -> str:
    """``license T04 in NJ, for 3 unmet needs: relapse_prevention 2, process 1``."""
    per_need: dict[str, int] = defaultdict(int)
    for target in targets:
        per_need[target.split(" ", 1)[1]] += 1
    needs = ", ".join(f"{need} {count}" for need, count in sorted(per_need.items(), key=lambda item: (-item[1], item[0])))
    return f"{title}, for {len(targets)} unmet need(s): {needs}"


def _pick_trials(changes: Sequence[Change], count: int) -> list[Change]:
    """The best change of each kind first (variety), then the rest by estimate."""
    picked: list[Change] = []
    best_of_kind: dict[str, Change] = {}
    for change in changes:
        best_of_kind.setdefault(change.kind, change)
    for change in sorted(best_of_kind.values(), key=lambda c: -c.estimate):
        picked.append(change)
    for change in changes:
        if change not in picked:
            picked.append(change)
    return picked[:count]


@dataclass(frozen=True)
class Suggestion:
    """A change measured by a re-solve: what it gains over the baseline solve.

    ``gain`` is in level-1 units (priority-weighted delivered sessions), ``sessions_gained``
    unweighted; ``served`` names the needs unmet in the baseline that got more sessions.
    The baseline is :attr:`SuggestionReport.baseline_objective`'s solve (with a warm start,
    the unchanged week re-solved from the same schedule).
    """

    change: Change
    gain: float
    sessions_gained: int
    objective: float
    served: tuple[str, ...]
    wall_seconds: float
    messages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        change = {k: v for k, v in asdict(self.change).items() if v not in (None, ())}
        change["targets"] = list(self.change.targets)
        return {
            "change": change,
            "gain": self.gain,
            "sessions_gained": self.sessions_gained,
            "objective": self.objective,
            "served": list(self.served),
            "wall_seconds": round(self.wall_seconds, 2),
            "messages": list(self.messages),
        }


@dataclass
class SuggestionReport:
    """Measured what-if changes, against a baseline solve with the same parameters.

    Attributes
    ----------
    baseline_objective
        What every gain is measured against: the solve of the unchanged scenario from
        scratch or, with ``warm_start``, its re-solve from the schedule every trial starts
        from (same parameters, so the search it adds is not credited to any change).
    start_objective
        With ``warm_start``: the objective of the schedule every warm solve starts from
        (the from-scratch baseline); None otherwise.
    tried
        Every change re-solved, with its gain.
    untried
        The changes picked for a trial (at most ``max_trials``) that the time budget left
        out; the notes say how many.
    candidates
        How many changes the reasons proposed, tried or not (only ``max_trials`` are picked).
    """

    baseline_objective: float
    params: SolveParams
    tried: list[Suggestion] = field(default_factory=list)
    untried: list[Change] = field(default_factory=list)
    wall_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    warm_start: bool = False
    start_objective: float | None = None
    candidates: int = 0

    def top(self, count: int = 3) -> list[Suggestion]:
        """The changes with a positive gain, largest first (ties: more sessions, then estimate)."""
        useful = [s for s in self.tried if s.gain > 0]
        useful.sort(key=lambda s: (-s.gain, -s.sessions_gained, -s.change.estimate, s.change.description))
        return useful[:count]

    def to_dict(self, count: int = 3) -> dict[str, object]:
        """JSON-ready form: the top suggestions and everything tried."""
        return {
            "baseline_objective": self.baseline_objective,
            "start_objective": self.start_objective,
            "params": asdict(self.params),
            "warm_start": self.warm_start,
            "top": [s.to_dict() for s in self.top(count)],
            "tried": [s.to_dict() for s in self.tried],
            "candidates": self.candidates,
            "untried": len(self.untried),
            "wall_seconds": round(self.wall_seconds, 2),
            "notes": list(self.notes),
        }


def _delivered(result: Result) -> tuple[int, dict[tuple[str, str], int]]:
    schedule = result.schedule
    if schedule is None:
        return 0, {}
    summary = schedule.summary
    groups, appointments = summary.get("delivered_group_sessions", 0), summary.get("delivered_appointments", 0)
    total = (groups if isinstance(groups, int) else 0) + (appointments if isinstance(appointments, int) else 0)
    return total, {(u.participant, u.need): u.missing for u in schedule.unmet}


def solve_changed(scenario: Scenario, change: Change, params: SolveParams, *, warm_from: Schedule | None = None) -> Result:
    """Apply one change to a copy of the scenario and solve it: what :func:`suggest` measures.

    Parameters
    ----------
    scenario
        The unchanged scenario.
    change
        The change to apply (:func:`apply_change`).
    params
        Solve parameters (the baseline's).
    warm_from
        None: solve from scratch. A schedule of the unchanged scenario: solve from it
        (``optimizer.solve`` with a ``replan`` request, nothing locked: its sessions seed the
        greedy floor, and keeping them ranks just below coverage, so the changed week moves
        as few people as it can). Every change here only adds options, so the schedule
        stays valid and the result is never below it; :func:`suggest` compares it with the
        unchanged scenario solved from the same schedule.
    """
    return _default_solver(apply_change(scenario, change), params, warm_from)


def _default_solver(scenario: Scenario, params: SolveParams, warm_from: Schedule | None) -> Result:
    from optimizer.replan import ReplanRequest
    from optimizer.solve import solve

    # What-if re-solves compare schedules, not bounds: no LP beside them.
    params = replace(params, lp_bound=False)
    if warm_from is None:
        return solve(scenario, params)
    return solve(scenario, params, replan=ReplanRequest(current=warm_from, mode="replan"))


def suggest(
    scenario: Scenario,
    schedule: Schedule,
    params: SolveParams,
    *,
    time_budget: float,
    max_trials: int = 6,
    baseline: Result | None = None,
    explanations: Sequence[NeedExplanation] | None = None,
    solver: Solver | None = None,
    progress: Callable[[str], None] | None = None,
    warm_start: bool = False,
) -> SuggestionReport:
    """Measure single what-if changes by re-solving, within a time budget.

    Parameters
    ----------
    scenario, schedule
        The scenario and a schedule of it; the changes target this schedule's unmet needs.
    params
        Parameters of every solve (baseline and trials). Use ``deterministic=True`` so a
        claimed gain is reproduced by solving the changed scenario again.
    time_budget
        Wall seconds for all the work, the baseline solve included; a trial starts only
        when the solves so far say it will finish inside the budget.
    max_trials
        The most changes re-solved.
    baseline
        The result of ``solve(scenario, params)`` if already at hand (saves one solve).
    explanations
        :func:`explain_unmet` of the schedule if already at hand.
    solver
        The solve function (default :func:`optimizer.solve`); a test seam.
    progress
        Called with a line of plain text before the baseline solve and after each trial.
    warm_start
        False (default): each changed scenario is solved from scratch, like the baseline, so
        a gain compares two fresh solves (and carries their search noise). True: each is
        solved from the baseline's schedule (see :func:`solve_changed`), and so is the
        unchanged scenario, once (one more solve): a gain compares two solves from the same
        schedule with the same parameters, so what the search alone finds is credited to no
        change. What the change adds to the plan at hand; less noisy, but not free of noise
        (a change moves the search, so a small gain either way is no clear effect).

    Returns
    -------
    SuggestionReport
        Every change tried with its measured gain; :meth:`SuggestionReport.top` ranks them.
    """
    # (Dictionaries too, like explain() and the other entry points: QA found an AttributeError.)
    scenario, schedule = as_pair(scenario, schedule, "suggest")
    if not isinstance(params, SolveParams):
        raise TypeError(f"suggest() takes params as a SolveParams, not {type(params).__name__}")
    if isinstance(time_budget, bool) or not isinstance(time_budget, int | float) or not math.isfinite(time_budget) or time_budget < 0:
        raise ValueError("suggest() takes time_budget as a finite number of seconds, 0 or more")
    run = solver or _default_solver
    began = time.perf_counter()
    durations: list[float] = []
    notes: list[str] = []
    say = progress or (lambda _line: None)

    def timed(changed: Scenario, warm_from: Schedule | None) -> Result:
        started = time.perf_counter()
        result = run(changed, params, warm_from)
        durations.append(time.perf_counter() - started)
        return result

    def fits() -> bool:
        """Whether one more solve, as slow as the slowest so far, ends inside the budget."""
        estimate = max(durations) if durations else params.time_limit
        return time.perf_counter() - began + estimate <= time_budget

    if baseline is None:
        say("solving the unchanged scenario (baseline)")
        baseline = timed(scenario, None)
    elif baseline.wall_seconds > 0:
        durations.append(baseline.wall_seconds)
    if baseline.objective is None or baseline.schedule is None:
        return SuggestionReport(0.0, params, notes=["the baseline solve found no schedule"], wall_seconds=time.perf_counter() - began)
    data = build_problem_data(scenario)
    if explanations is None:
        explanations = explain_unmet(scenario, schedule, data=data)
    changes = candidate_changes(scenario, explanations, data=data)
    trials = _pick_trials(changes, max_trials)
    report = SuggestionReport(float(baseline.objective), params, notes=notes, warm_start=warm_start, candidates=len(changes))
    # What the gains are measured against. From scratch: the baseline itself. Warm: every
    # changed week is solved from the baseline's schedule with the same budget, and that
    # solve keeps searching, so the unchanged week re-solved the same way is the reference;
    # against the baseline, a change would be credited with what the extra search finds.
    reference, warm_from = baseline, None
    if warm_start and trials:
        warm_from = baseline.schedule
        report.start_objective = float(baseline.objective)
        if not fits():
            report.untried.extend(trials)
            notes.append(
                f"time budget {time_budget:g} s reached before the unchanged week was re-solved from the baseline "
                f"schedule; {len(trials)} not tried"
            )
            report.wall_seconds = time.perf_counter() - began
            return report
        say("re-solving the unchanged scenario from the baseline schedule (what the changes are measured against)")
        reference = timed(scenario, warm_from)
        if reference.objective is None or reference.schedule is None:
            notes.append("the re-solve of the unchanged scenario from the baseline schedule found no schedule")
            report.wall_seconds = time.perf_counter() - began
            return report
        report.baseline_objective = float(reference.objective)
    base_delivered, base_unmet = _delivered(reference)
    for position, change in enumerate(trials):
        if not fits():
            report.untried.extend(trials[position:])
            notes.append(f"time budget {time_budget:g} s reached after {position} trial(s); {len(trials) - position} not tried")
            break
        try:
            changed = apply_change(scenario, change)
        except ValueError as error:
            notes.append(f"{change.description}: not applicable ({error})")
            continue
        result = timed(changed, warm_from)
        if result.objective is None:
            notes.append(f"{change.description}: the re-solve found no schedule")
            say(f"trial {position + 1}/{len(trials)}: no schedule: {change.description}")
            continue
        delivered, unmet = _delivered(result)
        served = tuple(
            f"{participant} {quote(need, bare=True)}" for (participant, need), missing in sorted(base_unmet.items())
            if unmet.get((participant, need), 0) < missing
        )
        gain = float(result.objective) - report.baseline_objective
        say(f"trial {position + 1}/{len(trials)}: {gain:+g}: {change.description}")
        report.tried.append(Suggestion(
            change=change,
            gain=gain,
            sessions_gained=delivered - base_delivered,
            objective=float(result.objective),
            served=served,
            wall_seconds=durations[-1],
            messages=tuple(result.messages),
        ))
    report.wall_seconds = time.perf_counter() - began
    return report


# --------------------------------------------------------------------------- everything


@dataclass
class Explanation:
    """Unmet needs with reasons, the score breakdown and, if asked, measured suggestions."""

    unmet: list[NeedExplanation]
    breakdown: ScoreBreakdown
    suggestions: SuggestionReport | None = None

    def by_reason(self) -> dict[str, list[NeedExplanation]]:
        """Unmet needs grouped by the code of their main reason, in filter-chain order."""
        grouped: dict[str, list[NeedExplanation]] = defaultdict(list)
        for need in self.unmet:
            grouped[need.code].append(need)
        order = list(REASON_TITLES)
        return {code: grouped[code] for code in sorted(grouped, key=order.index)}

    def to_dict(self, top: int = 3) -> dict[str, object]:
        """JSON-ready form (``iop-roster explain --format json``)."""
        return {
            "unmet": [
                {
                    "participant": need.participant,
                    "need": need.need,
                    "missing": need.missing,
                    "priority": need.priority,
                    "code": need.code,
                    "reasons": [_reason_dict(r) for r in need.reasons],
                }
                for need in self.unmet
            ],
            "by_reason": {code: len(needs) for code, needs in self.by_reason().items()},
            "breakdown": self.breakdown.to_dict(),
            "suggestions": self.suggestions.to_dict(top) if self.suggestions is not None else None,
        }


def _reason_dict(reason: Reason) -> dict[str, object]:
    out: dict[str, object] = {"code": reason.code, "text": reason.text}
    if reason.therapists:
        out["therapists"] = list(reason.therapists)
    if reason.taken_by:
        out["taken_by"] = list(reason.taken_by)
    if reason.starts:
        out["times"] = [when(s) for s in reason.starts]
    if reason.state:
        out["state"] = reason.state
    return out


def explain(
    scenario: Scenario,
    schedule: Schedule,
    *,
    suggest_params: SolveParams | None = None,
    time_budget: float = 60.0,
    max_trials: int = 6,
    baseline: Result | None = None,
    progress: Callable[[str], None] | None = None,
    warm_start: bool = False,
) -> Explanation:
    """Unmet needs with reasons, the score breakdown and, with ``suggest_params``, suggestions.

    Parameters
    ----------
    scenario, schedule
        A validated scenario and a schedule of it (solved or hand-made).
    suggest_params
        Solve parameters of the what-if re-solves; None skips suggestions.
    time_budget
        Wall seconds for the suggestions (baseline solve included).
    max_trials
        The most changes re-solved.
    baseline
        ``solve(scenario, suggest_params)`` if already at hand.
    progress
        Called with a line of text as the suggestion solves go.
    warm_start
        Solve each changed scenario from the baseline's schedule (see :func:`suggest`).
    """
    scenario, schedule = as_pair(scenario, schedule, "explain")
    report = check(scenario, schedule)
    data = build_problem_data(scenario)
    unmet = explain_unmet(scenario, schedule, data=data, report=report)
    breakdown = score_breakdown(scenario, schedule, report=report)
    suggestions = None
    if suggest_params is not None:
        suggestions = suggest(
            scenario, schedule, suggest_params, time_budget=time_budget, max_trials=max_trials,
            baseline=baseline, explanations=unmet, progress=progress, warm_start=warm_start,
        )
    return Explanation(unmet, breakdown, suggestions)
