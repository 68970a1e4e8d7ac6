"""Re-planning: a schedule in force, a changed scenario, and as few moves as possible.

Mid-week (``solve --from CURRENT``) sessions on or before ``lock_through`` (they happened)
and listed ``locked_ids`` are held exactly; every other session of the current schedule is a
*reference* the solve prefers to keep. Next week (``roll --previous LAST``) nothing is held;
last week's cohorts and therapists are references at the quality level.

This module reconciles the current schedule with the scenario (people discharged, therapists
gone, needs changed) and maps it to the problem data; :func:`optimizer.solve.solve` does the
rest. Locked sessions are checked with the independent checker: one that now breaks a hard
rule makes the re-plan ``infeasible``, naming the session and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from models.clock import DAY_INDEX, parse_time
from models.scenario import quote
from models.schedule import Schedule, ScheduledSession
from optimizer.check import check
from optimizer.data import (
    ADOLESCENT,
    ADULT,
    AppointmentOption,
    FixedAppointment,
    FixedGroup,
    FixedSessions,
    KeepReference,
    ProblemData,
)
from optimizer.greedy import Solution

ReplanMode = Literal["replan", "roll"]


@dataclass(frozen=True)
class ReplanRequest:
    """What to re-plan from.

    Attributes
    ----------
    current
        The schedule in force (this week's, or last week's when rolling).
    lock_through
        Day name: sessions on this day or before are held exactly (they already happened).
    locked_ids
        Session ids held exactly, wherever they are in the week.
    mode
        ``replan``: keeping the current schedule ranks just below clinical coverage.
        ``roll``: keeping last week's cohorts and therapists is a quality-level preference.
    """

    current: Schedule
    lock_through: str | None = None
    locked_ids: frozenset[str] = frozenset()
    mode: ReplanMode = "replan"


@dataclass
class Reconciliation:
    """The current schedule, mapped onto the new scenario's problem data."""

    fixed: FixedSessions
    reference: KeepReference
    seed: Solution
    notes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


def _minutes(session: ScheduledSession) -> tuple[int, int, int]:
    day = DAY_INDEX[session.day]
    start = day * 1440 + parse_time(session.start)
    end = day * 1440 + (1440 if session.end == "24:00" else parse_time(session.end))
    return day, start, end


def reconcile(data: ProblemData, request: ReplanRequest) -> Reconciliation:
    """Map a schedule in force onto the problem data (see the module docstring)."""
    participant_index = {pid: i for i, pid in enumerate(data.participant_ids)}
    therapist_index = {tid: i for i, tid in enumerate(data.therapist_ids)}
    group_index = {gid: g for g, gid in enumerate(data.group_type_ids)}
    candidate_of = {(k.group_type, k.population, k.day, k.start): k for k in data.candidates}
    notes: list[str] = []
    violations: list[str] = []
    known_ids = {s.id for s in request.current.sessions}
    for missing in sorted(request.locked_ids - known_ids):
        violations.append(f"--lock {missing}: no session with this id in the current schedule")
    lock_day = DAY_INDEX[request.lock_through] if request.lock_through else -1

    locked: list[ScheduledSession] = []
    others: list[ScheduledSession] = []
    for session in request.current.sessions:
        gone = [p for p in session.participants if p not in participant_index]
        kept = [p for p in session.participants if p in participant_index]
        is_locked = request.mode == "replan" and (DAY_INDEX[session.day] <= lock_day or session.id in request.locked_ids)
        if gone:
            notes.append(f"{session.id}: {', '.join(gone)} no longer in the scenario (discharged), dropped from the session")
        if session.therapist not in therapist_index:
            message = f"{session.id}: therapist {session.therapist} is no longer in the scenario"
            (violations if is_locked else notes).append(message + (" (locked session)" if is_locked else "; the session is re-planned"))
            continue
        if session.kind == "group" and (session.group_type or "") not in group_index:
            message = f"{session.id}: group type {session.group_type} is no longer in the scenario"
            (violations if is_locked else notes).append(message + (" (locked session)" if is_locked else "; the session is re-planned"))
            continue
        if not kept:
            continue
        reconciled = session.model_copy(update={"participants": kept})
        (locked if is_locked else others).append(reconciled)

    if locked:
        held = Schedule(format="iop-schedule/1", scenario=request.current.scenario, solver=request.current.solver, sessions=locked)
        report = check(data.scenario, held)
        for violation in report.violations:
            violations.append(f"locked session {violation.session or ''} breaks rule {violation.rule} ({violation.code}): {violation.message}".replace("session  breaks", "session breaks"))

    fixed_groups: list[FixedGroup] = []
    fixed_appointments: list[FixedAppointment] = []
    used_specs: dict[int, int] = {}
    for session in locked:
        day, start, end = _minutes(session)
        people = tuple(participant_index[p] for p in session.participants)
        therapist = therapist_index[session.therapist]
        if session.kind == "group":
            fixed_groups.append(FixedGroup(group_index[session.group_type or ""], therapist, day, start, end, people, session.id))
            continue
        spec = _appointment_spec(data, people[0], session.kind, therapist, end - start, used_specs)
        if spec is None:
            violations.append(f"locked session {session.id}: no {quote(session.kind, bare=True)} appointment of {session.participants[0]} in the scenario matches it")
            continue
        fixed_appointments.append(FixedAppointment(spec, AppointmentOption(therapist, day, start, end), session.id))

    attend: list[tuple[int, int]] = []
    opened: list[tuple[int, int]] = []
    seats: list[tuple[int, int, int]] = []
    appointments: list[tuple[int, AppointmentOption]] = []
    seed = Solution()
    for session in others:
        day, start, end = _minutes(session)
        therapist = therapist_index[session.therapist]
        members_now = [participant_index[p] for p in session.participants]
        if session.kind == "group":
            population = ADOLESCENT if data.population[members_now[0]] == ADOLESCENT else ADULT
            k = candidate_of.get((group_index[session.group_type or ""], population, day, start))
            if k is None:
                notes.append(f"{session.id}: its type and time no longer fit anyone's availability; re-planned")
                continue
            positions = [i for i, t in enumerate(k.therapists) if int(t) == therapist]
            members = [p for p in members_now if p in set(int(x) for x in k.participants)]
            for p in members:
                attend.append((p, k.index))
            if positions:
                opened.append((k.index, positions[0]))
                seats.extend((p, k.index, positions[0]) for p in members)
                seed.groups.append((k.index, positions[0], members))
            continue
        spec_index = _appointment_spec(data, members_now[0], session.kind, therapist, end - start, {})
        if spec_index is None:
            continue
        option = AppointmentOption(therapist, day, start, end)
        if option in data.appointments[spec_index].options:
            appointments.append((spec_index, option))
            seed.appointments.append((spec_index, option))
    reference = KeepReference(tuple(attend), tuple(opened), tuple(appointments), tuple(seats))
    return Reconciliation(FixedSessions(tuple(fixed_groups), tuple(fixed_appointments)), reference, seed, notes, violations)


def _appointment_spec(data: ProblemData, participant: int, kind: str, therapist: int, minutes: int, used: dict[int, int]) -> int | None:
    """The participant's appointment spec a session of this kind, therapist and length fills."""
    scenario = data.scenario
    for spec in data.appointments:
        if spec.participant != participant or spec.kind != kind or spec.duration != minutes:
            continue
        appointment = scenario.participants[participant].appointments[spec.position]
        therapist_id = data.therapist_ids[therapist]
        if appointment.therapist is not None and appointment.therapist != therapist_id:
            continue
        if appointment.qualification is not None and appointment.qualification not in scenario.therapists[therapist].qualifications:
            continue
        if used.get(spec.index, 0) >= spec.count:
            continue
        used[spec.index] = used.get(spec.index, 0) + 1
        return spec.index
    return None
