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
from optimizer.data import ProblemData
from optimizer.greedy import Solution

ReasonFinder = Callable[[str, str, int], list[str]]


def _hhmm(program_minute: int, *, end: bool = False) -> str:
    minute = program_minute % MINUTES_PER_DAY
    return "24:00" if end and minute == 0 else format_time(minute)


def build_sessions(data: ProblemData, solution: Solution) -> list[ScheduledSession]:
    """Sessions in a stable order (day, start, kind, therapist), numbered S0001, S0002, ..."""
    rows: list[tuple[tuple[int, str, str, str, str], dict[str, object]]] = []
    for k_index, i, people in solution.groups:
        k = data.candidates[k_index]
        therapist = data.therapist_ids[int(k.therapists[i])]
        group_type = data.group_type_ids[k.group_type]
        members = sorted(data.participant_ids[p] for p in people)
        rows.append((
            (k.start, "group", group_type, therapist, members[0] if members else ""),
            {"kind": "group", "group_type": group_type, "therapist": therapist, "day": DAYS[k.day],
             "start": _hhmm(k.start), "end": _hhmm(k.end, end=True), "participants": members},
        ))
    for spec_index, option in solution.appointments:
        spec = data.appointments[spec_index]
        therapist = data.therapist_ids[option.therapist]
        participant = data.participant_ids[spec.participant]
        rows.append((
            (option.start, spec.kind, "", therapist, participant),
            {"kind": spec.kind, "group_type": None, "therapist": therapist, "day": DAYS[option.day],
             "start": _hhmm(option.start), "end": _hhmm(option.end, end=True), "participants": [participant]},
        ))
    rows.sort(key=lambda row: row[0])
    width = max(4, len(str(len(rows))))
    return [ScheduledSession(id=f"S{n + 1:0{width}d}", **fields) for n, (_, fields) in enumerate(rows)]  # type: ignore[arg-type]


def unmet_needs(data: ProblemData, solution: Solution, reasons: ReasonFinder | None = None) -> list[UnmetNeed]:
    """Every need not delivered, with reasons when a reason finder is given."""
    delivered: Counter[tuple[int, str]] = Counter()
    for k_index, _, people in solution.groups:
        type_id = data.group_type_ids[data.candidates[k_index].group_type]
        for p in people:
            delivered[p, type_id] += 1
    for spec_index, _ in solution.appointments:
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
    delivered_groups = sum(len(people) for _, _, people in solution.groups)
    delivered_appointments = len(solution.appointments)
    needed_groups = int(data.needs.sum())
    needed_appointments = sum(spec.count for spec in data.appointments)
    weighted_delivered = sum(int(data.priority[p]) for _, _, people in solution.groups for p in people)
    weighted_delivered += sum(int(data.priority[data.appointments[s].participant]) for s, _ in solution.appointments)
    weighted_needed = int((data.needs.sum(axis=1) * data.priority).sum())
    weighted_needed += sum(spec.count * int(data.priority[spec.participant]) for spec in data.appointments)
    minutes: dict[int, int] = defaultdict(int)
    events: list[tuple[int, int]] = []
    for k_index, i, _ in solution.groups:
        k = data.candidates[k_index]
        minutes[int(k.therapists[i])] += k.end - k.start
        events += [(k.start, 1), (k.end, -1)]
    for _, option in solution.appointments:
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
        "sessions": len(solution.groups) + len(solution.appointments),
        "group_sessions_run": len(solution.groups),
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
