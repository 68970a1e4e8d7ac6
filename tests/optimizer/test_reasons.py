"""Reasons for unmet needs: each scenario makes one filter the true cause, and the reason says so.

Every scenario here is tiny (builders' defaults: program mon-fri 08:00-20:00 New York, a
60-minute grid; a group type of 60 minutes at Mon 10:00). Solved ones go through the solver,
whose ``unmet[].reasons`` must equal :func:`optimizer.explain.unmet_reasons` of the written
schedule: one analysis serves both.
"""

from __future__ import annotations

from builders import (
    every_day,
    group_type,
    make_scenario,
    participant,
    people,
    solve_checked,
    therapist,
)

from models.scenario import Scenario
from models.schedule import Schedule, ScheduledSession
from optimizer.explain import explain_unmet, unmet_reasons
from optimizer.reasons import NeedExplanation, span, when


def _solved(scenario: Scenario) -> Schedule:
    _, schedule, _ = solve_checked(scenario, time_limit=2.0, workers=1, deterministic=True)
    # The solver's reasons and the explanation of the written schedule are the same words.
    assert [u.model_dump() for u in schedule.unmet] == [u.model_dump() for u in unmet_reasons(scenario, schedule)]
    return schedule


def _need(scenario: Scenario, schedule: Schedule, participant_id: str, need: str) -> NeedExplanation:
    found = [e for e in explain_unmet(scenario, schedule) if (e.participant, e.need) == (participant_id, need)]
    assert len(found) == 1, [(e.participant, e.need) for e in explain_unmet(scenario, schedule)]
    return found[0]


def _empty(scenario: Scenario, sessions: list[ScheduledSession] | None = None) -> Schedule:
    return Schedule.model_validate({
        "format": "iop-schedule/1",
        "scenario": {"name": scenario.program.name},
        "solver": {"status": "feasible"},
        "sessions": [s.model_dump() for s in sessions or []],
    })


def test_when_is_program_day_and_time() -> None:
    assert when(1 * 1440 + 18 * 60) == "Tue 18:00"
    assert when(0) == "Mon 00:00"


def test_span_past_midnight_names_the_next_day() -> None:
    # Mon 23:00 (1380) to Tue 01:00 (1440 + 60): never "Mon 23:00-25:00".
    assert span(1380, 1500) == "Mon 23:00-Tue 01:00"
    assert span(1 * 1440 + 1080, 1 * 1440 + 1260) == "Tue 18:00-21:00"
    # An end at midnight closes the day of the last minute, as schedules write it.
    assert span(1320, 1440) == "Mon 22:00-24:00"
    assert span(6 * 1440 + 1320, 7 * 1440) == "Sun 22:00-24:00"
    # Across a whole day and more: Mon 20:00 to Wed 00:00 ends at Tue 24:00.
    assert span(1200, 2 * 1440) == "Mon 20:00-Tue 24:00"


def test_windows_past_midnight_in_an_appointment_reason() -> None:
    """QA c05: in Los Angeles (UTC-8 that week) Mon 20:00-22:00 is New York (UTC-5) Mon 23:00 to
    Tue 01:00; T1, in New York, is free Mon 22:00-24:00 and Tue 00:00-01:00 (one window across
    midnight, 22:00-01:00). A 120-minute appointment would have to cross midnight, which no
    session does, so it is unmet, and the reason writes both windows with the next day's name."""
    scenario = make_scenario(
        days=["mon", "tue"],
        hours="00:00-24:00",
        therapists=[therapist("T1", states=("CA",), availability={"mon": ["22:00-24:00"], "tue": ["00:00-01:00"]})],
        participants=[
            participant(
                "P1", state="CA", timezone="America/Los_Angeles", availability={"mon": ["20:00-22:00"]},
                appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 120}],
            ),
        ],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert explanation.code == "no_appointment_slot"
    assert explanation.reasons[0].text == (
        "no 120-minute slot on the 60-minute grid lies inside both P1's windows (Mon 23:00-Tue 01:00) and the "
        "availability of T1 (T1: Mon 22:00-Tue 01:00), program time"
    )


def test_state_no_therapist_covers() -> None:
    # P1, P2 (NY) fill the Mon 10:00 session with T1 (NY only); TX1 is in Texas.
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1", states=("NY",)), therapist("T2", states=("NJ", "NY"))],
        participants=[*people("P", 2, {"process": 1}), participant("TX1", {"process": 1}, state="TX")],
    )
    schedule = _solved(scenario)
    explanation = _need(scenario, schedule, "TX1", "process")
    assert explanation.code == "not_licensed"
    assert explanation.reasons[0].text == "no therapist qualified for process (T1, T2) is licensed in TX"
    assert explanation.reasons[0].state == "TX"


def test_state_covered_only_by_an_avoided_therapist() -> None:
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1", states=("TX",))],
        participants=[participant("TX1", {"process": 1}, state="TX", avoid_therapists=["T1"])],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert explanation.code == "not_licensed"
    assert "licensed in TX (T1) are on TX1's avoid_therapists" in explanation.reasons[0].text


def test_windows_miss_every_start() -> None:
    # LATE is free only Monday evening; process runs at 10:00 only.
    scenario = make_scenario(
        group_types=[group_type("process", starts=("10:00",), days=("mon", "wed"))],
        therapists=[therapist("T1")],
        participants=[*people("P", 2, {"process": 1}), participant("LATE", {"process": 1}, availability={"mon": ["17:00-20:00"]})],
    )
    schedule = _solved(scenario)
    explanation = _need(scenario, schedule, "LATE", "process")
    assert explanation.code == "no_start_in_windows"
    assert explanation.reasons[0].text == (
        "no process start (10:00 on mon, wed, 60 min, program time) lies inside LATE's windows "
        "(program time: Mon 17:00-20:00)"
    )


def test_windows_are_shown_in_program_time() -> None:
    # 08:00-09:00 in Chicago is 09:00-10:00 in New York: it ends as the 10:00 start begins.
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1")],
        participants=[participant("CHI", {"process": 1}, timezone="America/Chicago", availability={"mon": ["08:00-09:00"]})],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert "(program time: Mon 09:00-10:00)" in explanation.reasons[0].text


def test_displaced_by_higher_priority_names_who_took_the_seat() -> None:
    # One therapist, one start (Mon 10:00), three seats. A and B (priority 2) are in; HI
    # (priority 3) and LO (priority 1) compete for the last seat: 3 > 1, so HI gets it.
    scenario = make_scenario(
        group_types=[group_type("process", size=(2, 3))],
        therapists=[therapist("T1")],
        participants=[
            participant("A", {"process": 1}, priority=2),
            participant("B", {"process": 1}, priority=2),
            participant("HI", {"process": 1}, priority=3),
            participant("LO", {"process": 1}, priority=1),
        ],
    )
    schedule = _solved(scenario)
    assert [(u.participant, u.need) for u in schedule.unmet] == [("LO", "process")]
    explanation = _need(scenario, schedule, "LO", "process")
    assert explanation.code == "session_full"
    full = explanation.reasons[0]
    assert full.text.startswith("1 of 1 possible process start(s) (Mon 10:00, program time): the process sessions then are full: ")
    assert "is full (3/3)" in full.text
    assert "that capacity went to higher-priority HI (priority 3), A (priority 2), B (priority 2)" in full.text
    assert full.taken_by[0] == "HI"
    # A second session at the same time would need another therapist: T1 is leading the first.
    assert any(r.code == "therapist_busy" and "T1 leads S0001 (process, Mon 10:00-11:00)" in r.text for r in explanation.reasons)


def test_group_type_with_five_eligible_people_and_size_min_six() -> None:
    scenario = make_scenario(
        group_types=[group_type("process", size=(6, 8))],
        therapists=[therapist("T1")],
        participants=people("P", 5, {"process": 1}),
    )
    schedule = _solved(scenario)
    assert len(schedule.unmet) == 5
    explanation = _need(scenario, schedule, "P3", "process")
    assert explanation.code == "too_few_people"
    assert explanation.reasons[0].text == (
        "fewer than 6 eligible people who need process can meet with P3 at any start "
        "(the best, Mon 10:00 with T1, has 5: P1, P2, P3, P4, P5)"
    )


def test_licensed_therapist_not_available_at_any_start() -> None:
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1", availability={"tue": ["08:00-20:00"]}), therapist("T2", states=("NJ",))],
        participants=people("P", 2, {"process": 1}),
    )
    [first, _] = explain_unmet(scenario, _empty(scenario))
    assert first.code == "therapist_unavailable"
    assert first.reasons[0].text == (
        "no therapist qualified for process and licensed in NY (T1) is available at any process start "
        "inside P1's windows (Mon 10:00, program time)"
    )


def test_qualification_nobody_holds() -> None:
    scenario = make_scenario(
        group_types=[group_type("process", requires_qualifications=["trauma"])],
        therapists=[therapist("T1", qualifications=("group_facilitation",))],
        participants=people("P", 2, {"process": 1}),
    )
    [first, _] = explain_unmet(scenario, _empty(scenario))
    assert first.code == "no_qualified_therapist"
    assert first.reasons[0].text == "no therapist holds trauma, which process requires"


def test_population_and_tags() -> None:
    scenario = make_scenario(
        group_types=[group_type("adults", population="adult"), group_type("vets", requires_tags=["veteran"])],
        therapists=[therapist("T1")],
        participants=[participant("TEEN", {"adults": 1}, population="adolescent"), participant("P1", {"vets": 1})],
    )
    reasons = {(e.participant, e.need): e.reasons[0].text for e in explain_unmet(scenario, _empty(scenario))}
    assert reasons["TEEN", "adults"] == "adults is for adult participants; TEEN is adolescent"
    assert reasons["P1", "vets"] == "vets requires tag(s) veteran, which P1 does not carry"


def test_own_cap_below_the_minimum_size() -> None:
    scenario = make_scenario(
        group_types=[group_type("process", size=(4, 6))],
        therapists=[therapist("T1")],
        participants=[*people("P", 4, {"process": 1}), participant("CAP", {"process": 1}, max_group_size=3)],
    )
    schedule = _solved(scenario)
    explanation = _need(scenario, schedule, "CAP", "process")
    assert explanation.reasons[0].text == "CAP's max_group_size 3 is below the process minimum size of 4"


def test_hand_made_schedule_that_could_serve_the_need() -> None:
    # Nothing is scheduled, yet a session could run: the reason says so, with who and when.
    scenario = make_scenario(group_types=[group_type("process")], therapists=[therapist("T1")], participants=people("P", 2, {"process": 1}))
    [first, second] = explain_unmet(scenario, _empty(scenario))
    assert first.code == second.code == "could_be_served"
    assert "a new process session could run at Mon 10:00 with T1 and P1, P2" in first.reasons[0].text


def test_own_day_limit_and_other_sessions() -> None:
    # P1 may attend one session a day and is already in S1 (skills, Mon 08:00); process is Mon 10:00.
    scenario = make_scenario(
        group_types=[group_type("process"), group_type("skills", starts=("08:00",))],
        therapists=[therapist("T1"), therapist("T2")],
        participants=[participant("P1", {"process": 1, "skills": 1}, max_sessions_per_day=1), *people("Q", 2, {"skills": 1, "process": 1})],
    )
    sessions = [
        ScheduledSession(id="S1", kind="group", group_type="skills", therapist="T1", day="mon", start="08:00", end="09:00", participants=["P1", "Q1", "Q2"]),
        ScheduledSession(id="S2", kind="group", group_type="process", therapist="T1", day="mon", start="10:00", end="11:00", participants=["Q1", "Q2"]),
    ]
    explanation = _need(scenario, _empty(scenario, sessions), "P1", "process")
    assert explanation.code == "participant_limit"
    assert explanation.reasons[0].text == (
        "1 of 1 possible process start(s) (Mon 10:00, program time): P1 has 1 session(s) on Mon already (max_sessions_per_day 1)"
    )


def test_joining_would_break_avoid_and_group_cap() -> None:
    scenario = make_scenario(
        group_types=[group_type("process", size=(2, 4))],
        therapists=[therapist("T1")],
        participants=[
            participant("P1", {"process": 1}, avoid=["Q1"]),
            participant("Q1", {"process": 1}),
            participant("Q2", {"process": 1}, max_group_size=2),
        ],
    )
    sessions = [
        ScheduledSession(id="S1", kind="group", group_type="process", therapist="T1", day="mon", start="10:00", end="11:00", participants=["Q1", "Q2"]),
    ]
    explanation = _need(scenario, _empty(scenario, sessions), "P1", "process")
    rule = next(r for r in explanation.reasons if r.code == "session_rule")
    assert "S1 (process, Mon 10:00-11:00, T1) has 2; one more breaks the max_group_size 2 of Q2" in rule.text
    assert "S1 (process, Mon 10:00-11:00, T1) has Q1, on an avoid list with P1" in rule.text


def test_appointment_with_a_therapist_not_licensed_in_the_state() -> None:
    scenario = make_scenario(
        therapists=[therapist("T1", states=("NY",))],
        participants=[participant("TX1", state="TX", appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60}])],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert explanation.code == "not_licensed"
    assert explanation.reasons[0].text == "T1, named for TX1's individual, is not licensed in TX"


def test_appointment_with_any_prescriber_none_licensed() -> None:
    scenario = make_scenario(
        therapists=[therapist("T1", qualifications=("prescriber",)), therapist("T2", qualifications=("prescriber",), states=("TX",))],
        participants=[
            participant("TX1", state="TX", avoid_therapists=["T2"], appointments=[{"kind": "medication", "qualification": "prescriber", "duration_minutes": 30}]),
        ],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert explanation.reasons[0].text == (
        "no therapist with qualification prescriber may see TX1 (T1 not licensed in TX; T2 on TX1's avoid_therapists)"
    )


def test_appointment_without_a_common_slot() -> None:
    scenario = make_scenario(
        therapists=[therapist("T1", availability={"tue": ["08:00-12:00"]})],
        participants=[
            participant("P1", availability={"mon": ["08:00-12:00"]}, appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60}]),
        ],
    )
    [explanation] = explain_unmet(scenario, _empty(scenario))
    assert explanation.code == "no_appointment_slot"
    assert explanation.reasons[0].text == (
        "no 60-minute slot on the 60-minute grid lies inside both P1's windows (Mon 08:00-12:00) and the "
        "availability of T1 (T1: Tue 08:00-12:00), program time"
    )


def test_appointment_therapist_time_taken_names_the_higher_priority_participant() -> None:
    # T1 is free only Mon 08:00-09:00 and sees HI (priority 3) then; LO (priority 1) misses out.
    scenario = make_scenario(
        therapists=[therapist("T1", availability={"mon": ["08:00-09:00"]})],
        participants=[
            participant("HI", priority=3, appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60}]),
            participant("LO", priority=1, appointments=[{"kind": "individual", "therapist": "T1", "duration_minutes": 60}]),
        ],
    )
    schedule = _solved(scenario)
    explanation = _need(scenario, schedule, "LO", "individual")
    assert explanation.code == "therapist_busy"
    assert explanation.reasons[0].text == (
        "1 of 1 possible individual slot(s) (Mon 08:00, program time): every qualified therapist who may see LO "
        "and is available then is taken: T1 leads S0001 (individual, Mon 08:00-09:00); "
        "that capacity went to higher-priority HI (priority 3)"
    )


def test_video_rooms() -> None:
    # One video room: the Mon 10:00 individual of P1 takes it, so no process session can open.
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1"), therapist("T2")],
        participants=[
            participant("P1", {"process": 1}, availability={"mon": ["10:00-11:00"]}),
            participant("P2", {"process": 1}, availability={"mon": ["10:00-11:00"]}),
            participant("P3", availability=every_day(), appointments=[{"kind": "individual", "therapist": "T2", "duration_minutes": 60}]),
        ],
        max_concurrent_sessions=1,
    )
    sessions = [ScheduledSession(id="S1", kind="individual", therapist="T2", day="mon", start="10:00", end="11:00", participants=["P3"])]
    explanation = _need(scenario, _empty(scenario, sessions), "P1", "process")
    assert explanation.code == "video_rooms"
    assert "Mon 10:00: 1 of 1 video rooms in use (S1)" in explanation.reasons[0].text


def test_two_entries_of_one_kind_the_reason_speaks_of_the_short_one() -> None:
    # P1 has a 50-minute individual session with T1 and three 30-minute check-ins of the same
    # kind with T2, who is free one hour a week: two check-ins fit (Tue 09:00, 09:30), the
    # third cannot. T1's session is delivered, so the reason is about T2's hour being taken
    # by P1's own check-ins, never "T1 and P1 are both free" (T1's entry is served).
    from models.io import scenario_from_data

    raw = {
        "format": "iop-scenario/1",
        "program": {"name": "Same kind twice", "timezone": "America/New_York", "week_start": "2026-12-07",
                    "days": ["mon", "tue"], "hours": "09:00-17:00"},
        "therapists": [
            {"id": "T1", "licensed_states": ["NY"], "availability": {"mon": ["09:00-12:00"]}},
            {"id": "T2", "licensed_states": ["NY"], "availability": {"tue": ["09:00-10:00"]}},
        ],
        "participants": [{
            "id": "P1", "state": "NY", "population": "adult",
            "availability": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]},
            "appointments": [
                {"kind": "individual", "therapist": "T1", "duration_minutes": 50},
                {"kind": "individual", "therapist": "T2", "duration_minutes": 30, "count": 3},
            ],
        }],
    }
    scenario = scenario_from_data(raw).scenario
    schedule = _solved(scenario)
    assert [(u.participant, u.need, u.missing) for u in schedule.unmet] == [("P1", "individual", 1)]
    text = " ".join(schedule.unmet[0].reasons)
    assert "P1 is already in a session then" in text and "T2" in text
    assert "both free" not in text and "could serve" not in text


def test_what_a_new_session_needs_is_worked_out_once_per_start_for_everyone() -> None:
    """QA 2026-11-28: each unmet participant re-derived, at each start, the therapists free
    then and the people who could join (explain took 88 s on a 1-minute grid round the clock,
    40 participants, empty schedule; 62 s now). The answers are kept per (type, start); each
    participant's reasons are the words a fresh analysis of that need alone gives."""
    from optimizer.data import build_problem_data
    from optimizer.reasons import ReasonAnalysis

    scenario = make_scenario(
        group_types=[group_type("process", size=(3, 4), starts=None, days=None)],
        therapists=[therapist("T1", min_break_minutes=60), therapist("T2", states=("IL",))],
        participants=[
            *people("A", 3, {"process": 2}),
            participant("B1", {"process": 1}, population="adolescent"),
            participant("C1", {"process": 1}, state="IL", avoid=["A1"]),
        ],
    )
    busy = ScheduledSession(id="S1", kind="individual", therapist="T1", day="mon", start="12:00", end="13:00", participants=["A1"])
    schedule = _empty(scenario, [busy])
    data = build_problem_data(scenario)
    calls: list[tuple[int, int, int]] = []
    shared = ReasonAnalysis(data, schedule.sessions)
    original = shared.therapist_blockers

    def counted(t: int, start: int, end: int) -> list[object]:
        calls.append((t, start, end))
        return original(t, start, end)  # type: ignore[return-value]

    shared.therapist_blockers = counted  # type: ignore[assignment, method-assign]
    needs = [("A1", "process", 2), ("A2", "process", 2), ("A3", "process", 2), ("B1", "process", 1), ("C1", "process", 1)]
    together = shared.explain_all(needs)
    assert len(calls) == len(set(calls)) > 0
    for explained, (ident, need, missing) in zip(together, needs, strict=True):
        alone = ReasonAnalysis(data, schedule.sessions).explain(ident, need, missing)
        assert [(r.code, r.text) for r in explained.reasons] == [(r.code, r.text) for r in alone], ident


def test_an_appointment_kind_written_like_a_group_type_gets_the_appointment_reasons() -> None:
    # QA: the unmet entry of an appointment whose kind is also a group type id (validate warns)
    # was explained as the group (by the group's avoid list), never by its real cause.
    appointment = {"kind": "process", "qualification": "prescriber", "duration_minutes": 30}
    scenario = make_scenario(
        group_types=[group_type("process")],
        therapists=[therapist("T1")],
        participants=[participant("P1", appointments=[appointment])],
    )
    [only] = explain_unmet(scenario, _empty(scenario))
    assert (only.participant, only.need) == ("P1", "process")
    # (Before: "fewer than 2 eligible people who need process can meet with P1 at any start".)
    assert only.code == "no_qualified_therapist"
    assert [reason.text for reason in only.reasons] == ["no therapist holds prescriber, which P1's process needs"]
    # With a group need of the type too, both kinds of reason are given.
    both = make_scenario(
        group_types=[group_type("process", requires_qualifications=["trauma"])],
        therapists=[therapist("T1")],
        participants=[participant("P1", {"process": 1}, appointments=[appointment])],
    )
    texts = [reason.text for explanation in explain_unmet(both, _empty(both)) for reason in explanation.reasons]
    assert any("trauma" in text for text in texts) and any("prescriber" in text for text in texts), texts
