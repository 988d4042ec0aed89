"""The pure parts of the benchmark: the lower bound, the report's rows and figures."""

import pytest

from bench import bound, provisioning
from bench.detection import Noticed
from bench.provisioning import Measured
from bench.report import SCALE_BOTH, Report, fresh_clone_target, provisioning_rows
from bench.stats import megabytes, ratio, spread
from emulator.core.runtime import LATENCY


def test_the_create_bound_is_the_longest_path_through_the_latency_table():
    assert bound.lower_bound("create", LATENCY) == 300 + 900 + 60 + 2 + 900 + 2
    assert bound.formula("create", LATENCY) == (
        "cluster_create 300 + hsm_create 900 + cluster_initialize 60 + ssm_delivery 2 + hsm_create 900 + ssm_delivery 2 = 2164 s"
    )


def test_more_hsms_add_nothing_to_a_bound_and_deletes_wait_for_the_cluster():
    assert bound.lower_bound("grow", LATENCY) == bound.lower_bound("grow_from_zero", LATENCY) == 902
    assert bound.lower_bound("shrink_to_zero", LATENCY) == 300
    assert bound.lower_bound("delete", LATENCY) == 300 + 120


def test_every_measured_operation_has_a_bound():
    assert set(provisioning.BOUND_OF.values()) <= set(bound.PATHS)


def measured(label: str, seconds: float, noticed: list[Noticed] | None = None) -> Measured:
    return Measured(
        label,
        seconds,
        requests=1,
        lambda_invocations=10,
        states_entered=20,
        real_seconds=seconds / 100,
        hsms_seconds=seconds / 2,
        noticed=noticed or [],
    )


def test_rows_give_emulated_seconds_against_the_bound_and_add_up_the_scale_down_and_up():
    rounds = [
        [measured(provisioning.DEFAULT, 3000.0), measured(provisioning.SHRINK, 400.0), measured(provisioning.REGROW, 1200.0)],
        [measured(provisioning.DEFAULT, 2000.0), measured(provisioning.SHRINK, 300.0), measured(provisioning.REGROW, 1100.0)],
    ]
    report = Report(machine={}, time_scale=100, rounds=2, cold_starts=1, latency=dict(LATENCY), rounds_measured=rounds)
    rows = {row.label: row for row in provisioning_rows(report)}
    create = rows[provisioning.DEFAULT]
    assert create.emulated == [3000.0, 2000.0], "emulated seconds as measured on the emulator's clock, not scaled"
    assert create.real == [30.0, 20.0]
    assert create.ratios == pytest.approx([3000 / 2164, 2000 / 2164])
    both = rows[SCALE_BOTH]
    assert both.bound == 300 + 902
    assert both.emulated == [1600.0, 1400.0]
    assert both.invocations == [20, 20]
    assert list(rows) == [provisioning.DEFAULT, provisioning.SHRINK, provisioning.REGROW, SCALE_BOTH]


def test_figures_are_medians_with_their_range():
    assert spread([3.0, 1.0, 2.0]) == "2 (1-3)"
    assert spread([1.25, 1.25], 2) == "1.25"
    assert megabytes(2_400_000) == "2.40 MB"
    with pytest.raises(ValueError, match="no ratio"):
        ratio(1, 0)


def test_the_report_states_each_target_against_its_measurement():
    from bench import template
    from bench.coldstart import ColdStart
    from bench.handlers import Comparison
    from bench.report import render

    def cold(ms: float, rss: int) -> ColdStart:
        return ColdStart(ms, ms + 10, rss, False, b"")

    labels = [provisioning.DEFAULT, provisioning.LARGE]
    waits = [
        Noticed("Wait for every HSM to be ACTIVE", 9.5, True),
        Noticed("Point the management client at the HSMs", 10.2, False),
    ]
    report = Report(
        machine=dict(nproc="2", memory="8.0 GiB", cpu="cpu", kernel="6", load="1", python="3", node="v22", commit="c", date="d"),
        time_scale=100,
        rounds=1,
        cold_starts=1,
        latency=dict(LATENCY),
        rounds_measured=[[measured(label, 3000.0, waits) for label in labels]],
        growth_measured=[[measured(provisioning.growth_label(n), 2000.0 + n * 10) for n in (2, 6, 12, 28)]],
        cold_starts_measured=[Comparison("custom-resource", [cold(20, 8192)], [cold(1000, 40000)])],
        sizes=[("custom-resource", "arm64", 5_000_000, 2_500_000)],
        synth_seconds=[4.0],
        counts=dict.fromkeys(template.COUNTED, 2),
        cluster_counts=dict.fromkeys(template.COUNTED, 2),
        memory_sizes={"Entry": 128},
        total_seconds=600,
    )
    text = render(report)
    # 1000 ms against 20 to the first poll, 1010 against 30 to the first event handled: both must be 40x.
    assert (
        "| Cold start at least 40x faster than the Python peer, both handlers"
        " | first poll: custom-resource 50.0x; first event handled: custom-resource 33.7x | **missed** |"
    ) in text
    assert "| Peak RSS at most 16 MiB | 8.0 MiB at most | met |" in text
    assert "1.39x at worst" in text  # 3000 emulated s against 2164 AWS s
    # HSMs beyond the first: half of 2020 and of 2280 emulated s.
    growth = "| Growth: time beyond the first HSM grows at most 20% from 2 to 28 HSMs | 2 -> 28 HSMs: 1010 -> 1140 emulated s"
    assert f"{growth} (+13%)" in text
    assert "| Each state change noticed within 15 s | 9.5 emulated s at worst over 2 waits" in text
    assert "10.2 s at most between two checks over 2 waits for a command | met |" in text
    assert "| 28 | 2280 | 1140 | +13% | 10 | 20 | - |" in text


def fresh_record(**seconds: int) -> dict:
    runs = [{"run": name.replace("_", "-"), "seconds": s, "stages": []} for name, s in seconds.items()]
    record = {"commit": "c" * 40, "date": "2026-12-01 00:00 UTC", "machine": {}, "runs": [r for r in runs if r["run"] != "test"]}
    test = next((r for r in runs if r["run"] == "test"), None)
    if test:
        record["test"] = {"commit": "c" * 40, "date": "2026-12-01 00:00 UTC", **test}
    return record


def test_the_fresh_clone_target_is_met_only_when_every_run_is_within_its_limit():
    assert fresh_clone_target(None) == ("not measured (section 5)", "not measured")
    measured, verdict = fresh_clone_target(fresh_record(demo=540, demo_again=90, test=1150))
    assert verdict == "met"
    assert measured == "demo 9.0 min; demo-again 1.5 min; test 19.2 min (section 5)"
    assert fresh_clone_target(fresh_record(demo=540, demo_again=90))[1] == "met where measured"
    assert fresh_clone_target(fresh_record(demo=660, demo_again=90, test=1100))[1] == "**missed**"
    assert fresh_clone_target(fresh_record(demo=540, demo_again=130))[1] == "**missed**"
