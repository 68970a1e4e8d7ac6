"""Why a need went unmet: the chain of filters that left no option, in plain words.

Derived from the problem data and the final schedule, never from solver internals, so an
operations person can act on it ("no therapist licensed in TX is free at any process start
inside this participant's windows").
"""

from __future__ import annotations

from collections.abc import Callable

from models.clock import DAYS, MINUTES_PER_DAY, format_time, parse_time
from optimizer.data import ProblemData
from optimizer.greedy import Solution


def _when(program_minute: int) -> str:
    return f"{DAYS[program_minute // MINUTES_PER_DAY].capitalize()} {format_time(program_minute % MINUTES_PER_DAY)}"


def reason_finder(data: ProblemData, solution: Solution) -> Callable[[str, str, int], list[str]]:
    """A function ``(participant id, need, missing) -> reasons`` for this schedule."""
    index = {pid: i for i, pid in enumerate(data.participant_ids)}
    group_index = {gid: g for g, gid in enumerate(data.group_type_ids)}
    scenario = data.scenario
    held: dict[int, list[tuple[int, int]]] = {}
    for k_index, _, people in solution.groups:
        k = data.candidates[k_index]
        for p in people:
            held.setdefault(p, []).append((k.start, k.end))
    for spec_index, option in solution.appointments:
        held.setdefault(data.appointments[spec_index].participant, []).append((option.start, option.end))

    def group_reasons(p: int, g: int) -> list[str]:
        person = scenario.participants[p]
        group = scenario.group_types[g]
        gid = group.id
        if not data.eligible[p, g]:
            if group.population not in ("any", person.population):
                return [f"{gid} is for {group.population} participants; {person.id} is {person.population}"]
            missing_tags = [t for t in group.requires_tags if t not in person.tags]
            return [f"{gid} requires tag(s) {', '.join(missing_tags)}, which {person.id} does not carry"]
        mine = [k for k in data.candidates if k.group_type == g and p in set(int(x) for x in k.participants)]
        if not mine:
            days = group.days or scenario.program.days
            starts = group.start_times or [f"every {scenario.program.slot_minutes} min"]
            in_window = []
            for day in days:
                if day not in scenario.program.days:
                    continue
                d = DAYS.index(day)
                minutes = [parse_time(s) for s in group.start_times] if group.start_times else list(
                    range(data.hours_start, data.hours_end - group.duration_minutes + 1, data.slot_minutes)
                )
                for m in minutes:
                    start = d * MINUTES_PER_DAY + m
                    end = start + group.duration_minutes
                    if data.participant_available[p, end] - data.participant_available[p, start] == end - start:
                        in_window.append(start)
            if not in_window:
                return [
                    f"no {gid} start ({', '.join(starts)} on {', '.join(days)}, program time, "
                    f"{group.duration_minutes} min) lies inside {person.id}'s availability"
                ]
            qualified = [t for t in range(data.num_therapists) if set(group.requires_qualifications) <= set(scenario.therapists[t].qualifications)]
            licensed = [t for t in qualified if data.may_see[t, p]]
            if not licensed:
                return [f"no therapist qualified for {gid} is licensed in {person.state} (or free of a dual relationship with {person.id})"]
            free = [
                t for t in licensed for start in in_window
                if data.therapist_available[t, start + group.duration_minutes] - data.therapist_available[t, start] == group.duration_minutes
            ]
            if not free:
                names = ", ".join(sorted(scenario.therapists[t].id for t in licensed))
                times = ", ".join(_when(s) for s in in_window[:4])
                return [f"no therapist qualified for {gid} and licensed in {person.state} ({names}) is available at the {gid} starts in {person.id}'s windows ({times})"]
            return [f"fewer than {group.size.min} participants who may join {gid} share a start in {person.id}'s windows with a therapist licensed for all of them"]
        times = sorted({k.start for k in mine})
        busy = held.get(p, [])
        clashes = [s for s in times if any(s < e and b < s + group.duration_minutes for b, e in busy)]
        text = ", ".join(_when(s) for s in times[:5]) + (" ..." if len(times) > 5 else "")
        reason = f"{len(times)} {gid} start(s) are possible for {person.id} ({text})"
        if clashes and len(clashes) == len(times):
            reason += ", and each overlaps another session of theirs that was scheduled instead"
        else:
            reason += (
                "; no session there could take them: sessions were full or below "
                f"{group.size.min} members, therapists or video rooms were taken by needs served first"
                ", or their day/hour limits were reached"
            )
        return [reason]

    def appointment_reasons(p: int, kind: str) -> list[str]:
        person = scenario.participants[p]
        specs = [s for s in data.appointments if s.participant == p and s.kind == kind]
        reasons: list[str] = []
        for spec in specs:
            appointment = person.appointments[spec.position]
            who = appointment.therapist or f"a therapist with qualification {appointment.qualification}"
            if not spec.options:
                if appointment.therapist and not data.may_see[data.therapist_ids.index(appointment.therapist), p]:
                    reasons.append(f"{appointment.therapist} is not licensed in {person.state} (or is on {person.id}'s avoid_therapists)")
                else:
                    reasons.append(f"no {appointment.duration_minutes}-minute slot on the grid where {person.id} and {who} are both available")
            else:
                days = sorted({o.day for o in spec.options})
                reasons.append(
                    f"{len(spec.options)} slot(s) on {', '.join(DAYS[d] for d in days)} fit {person.id} and {who}; "
                    "each was taken by another session, the therapist's hour or day limit, a video room, "
                    f"or {person.id}'s own day/hour limits"
                )
        return reasons

    def find(participant: str, need: str, missing: int) -> list[str]:
        p = index[participant]
        if need in group_index:
            return group_reasons(p, group_index[need])
        return appointment_reasons(p, need)

    return find


__all__ = ["reason_finder"]

