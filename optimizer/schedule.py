"""From a solution in indices to the schedule document: sessions, unmet needs, summary."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable

from models.clock import DAYS, MINUTES_PER_DAY, format_time
from models.schedule import (
    ScenarioRef,
    Schedule,
    ScheduledSession,
    SolverInfo,
    SolverStatus,
    UnmetNeed,
)
from optimizer.data import AppointmentOption, ProblemData
from optimizer.greedy import Solution

ReasonFinder = Callable[[str, str, int], list[str]]


def _hhmm(program_minute: int, *, end: bool = False) -> str:
    minute = program_minute % MINUTES_PER_DAY
    return "24:00" if end and minute == 0 else format_time(minute)


GroupRow = tuple[int, int, int, int, int, list[int], "str | None"]  # type, therapist, day, start, end, people, id


def all_groups(data: ProblemData, solution: Solution) -> list[GroupRow]:
    """Every group session of a solution, fixed (re-planning) ones included."""
    rows: list[GroupRow] = []
    for k_index, i, people in solution.groups:
        k = data.candidates[k_index]
        rows.append((k.group_type, int(k.therapists[i]), k.day, k.start, k.end, list(people), None))
    if solution.fixed is not None:
        for group in solution.fixed.groups:
            rows.append((group.group_type, group.therapist, group.day, group.start, group.end, list(group.participants), group.session_id))
    return rows


def all_appointments(data: ProblemData, solution: Solution) -> list[tuple[int, AppointmentOption, str | None]]:
    """Every appointment of a solution, fixed ones included: (spec, option, id)."""
    rows: list[tuple[int, AppointmentOption, str | None]] = [(s, option, None) for s, option in solution.appointments]
    if solution.fixed is not None:
        rows.extend((held.spec, held.option, held.session_id) for held in solution.fixed.appointments)
    return rows


def build_sessions(data: ProblemData, solution: Solution) -> list[ScheduledSession]:
    """Sessions in a stable order (day, start, kind, therapist), numbered S0001, S0002, ...

    Fixed sessions keep their ids; the others are numbered around them.
    """
    rows: list[tuple[tuple[int, str, str, str, str], str | None, dict[str, object]]] = []
    for g, t, day, start, end, people, session_id in all_groups(data, solution):
        therapist = data.therapist_ids[t]
        group_type = data.group_type_ids[g]
        members = sorted(data.participant_ids[p] for p in people)
        rows.append((
            (start, "group", group_type, therapist, members[0] if members else ""),
            session_id,
            {"kind": "group", "group_type": group_type, "therapist": therapist, "day": DAYS[day],
             "start": _hhmm(start), "end": _hhmm(end, end=True), "participants": members},
        ))
    for spec_index, option, session_id in all_appointments(data, solution):
        spec = data.appointments[spec_index]
        therapist = data.therapist_ids[option.therapist]
        participant = data.participant_ids[spec.participant]
        rows.append((
            (option.start, spec.kind, "", therapist, participant),
            session_id,
            {"kind": spec.kind, "group_type": None, "therapist": therapist, "day": DAYS[option.day],
             "start": _hhmm(option.start), "end": _hhmm(option.end, end=True), "participants": [participant]},
        ))
    rows.sort(key=lambda row: row[0])
    taken = {session_id for _, session_id, _ in rows if session_id}
    width = max(4, len(str(len(rows))))
    sessions: list[ScheduledSession] = []
    counter = 0
    for _, session_id, fields in rows:
        if session_id is None:
            while True:
                counter += 1
                session_id = f"S{counter:0{width}d}"
                if session_id not in taken:
                    break
        sessions.append(ScheduledSession(id=session_id, **fields))  # type: ignore[arg-type]
    return sessions


def unmet_needs(data: ProblemData, solution: Solution, reasons: ReasonFinder | None = None) -> list[UnmetNeed]:
    """Every need not delivered, with reasons when a reason finder is given."""
    delivered: Counter[tuple[int, str]] = Counter()
    for g, _, _, _, _, people, _ in all_groups(data, solution):
        for p in people:
            delivered[p, data.group_type_ids[g]] += 1
    for spec_index, _, _ in all_appointments(data, solution):
        spec = data.appointments[spec_index]
        delivered[spec.participant, spec.kind] += 1
    needed: Counter[tuple[int, str]] = Counter()
    for p in range(data.num_participants):
        for g, count in enumerate(data.needs[p]):
            if count:
                needed[p, data.group_type_ids[g]] += int(count)
    for spec in data.appointments:
        needed[spec.participant, spec.kind] += spec.count
    unmet: list[UnmetNeed] = []
    for (p, need), count in sorted(needed.items(), key=lambda item: (data.participant_ids[item[0][0]], item[0][1])):
        missing = count - delivered[p, need]
        if missing > 0:
            participant = data.participant_ids[p]
            found = reasons(participant, need, missing) if reasons else []
            unmet.append(UnmetNeed(participant=participant, need=need, missing=missing, reasons=found))
    return unmet


def summarize(data: ProblemData, solution: Solution) -> dict[str, float | int]:
    """Coverage, hours and utilisation figures of a solution."""
    groups = all_groups(data, solution)
    appointments = all_appointments(data, solution)
    delivered_groups = sum(len(row[5]) for row in groups)
    delivered_appointments = len(appointments)
    needed_groups = int(data.needs.sum())
    needed_appointments = sum(spec.count for spec in data.appointments)
    weighted_delivered = sum(int(data.priority[p]) for row in groups for p in row[5])
    weighted_delivered += sum(int(data.priority[data.appointments[s].participant]) for s, _, _ in appointments)
    weighted_needed = int((data.needs.sum(axis=1) * data.priority).sum())
    weighted_needed += sum(spec.count * int(data.priority[spec.participant]) for spec in data.appointments)
    minutes: dict[int, int] = defaultdict(int)
    events: list[tuple[int, int]] = []
    for _, t, _, start, end, _, _ in groups:
        minutes[t] += end - start
        events += [(start, 1), (end, -1)]
    for _, option, _ in appointments:
        minutes[option.therapist] += option.end - option.start
        events += [(option.start, 1), (option.end, -1)]
    peak = running = 0
    for _, step in sorted(events):
        running += step
        peak = max(peak, running)
    total_minutes = sum(minutes.values())
    capacity = sum(
        int(m) if m >= 0 else int(data.therapist_available[t, -1])
        for t, m in enumerate(data.therapist_max_minutes)
    )
    needed = needed_groups + needed_appointments
    return {
        "delivered_group_sessions": delivered_groups,
        "needed_group_sessions": needed_groups,
        "delivered_appointments": delivered_appointments,
        "needed_appointments": needed_appointments,
        "coverage": round((delivered_groups + delivered_appointments) / needed, 4) if needed else 1.0,
        "weighted_delivered": weighted_delivered,
        "weighted_unmet": weighted_needed - weighted_delivered,
        "sessions": len(groups) + len(appointments),
        "group_sessions_run": len(groups),
        "therapist_hours": round(total_minutes / 60, 2),
        "therapist_utilisation": round(total_minutes / capacity, 4) if capacity else 0.0,
        "peak_concurrent_sessions": peak,
    }


def build_schedule(
    data: ProblemData,
    solution: Solution,
    *,
    status: SolverStatus,
    solver_fields: dict[str, object] | None = None,
    scenario_sha256: str | None = None,
    reasons: ReasonFinder | None = None,
) -> Schedule:
    """The schedule document of a solution."""
    summary = summarize(data, solution)
    fields: dict[str, object] = {"status": status, "objective": summary["weighted_delivered"]}
    fields.update(solver_fields or {})
    return Schedule(
        format="iop-schedule/1",
        scenario=ScenarioRef(name=data.scenario.program.name, sha256=scenario_sha256),
        solver=SolverInfo(**fields),  # type: ignore[arg-type]
        sessions=build_sessions(data, solution),
        unmet=unmet_needs(data, solution, reasons),
        summary=summary,  # type: ignore[arg-type]
    )
