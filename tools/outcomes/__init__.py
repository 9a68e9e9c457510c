"""Outcomes of a campaign or any experiment.

Lift against a control with intervals and Holm-corrected tests, the minimum detectable lift and test sizing, and
Thompson-sampling allocation across waves with its replay value.
"""

from tools.outcomes.allocation import (
    ArmOutcomes,
    FixedPolicy,
    Policy,
    PolicyValue,
    RatioValue,
    ReplayComparison,
    ReplayResult,
    ThompsonPolicy,
    UniformPolicy,
    WaveAllocation,
    compare_policies,
    replay,
    thompson_allocation,
)
from tools.outcomes.analysis import (
    CI_METHOD,
    ArmResult,
    ArmsAnalysis,
    ControlSummary,
    ExperimentAnalysis,
    ExperimentRequest,
    OutcomeDataError,
    SegmentAnalysis,
    analyse_experiment,
    analyse_file,
    read_table,
)
from tools.outcomes.estimators import bootstrap_mean_difference, newcombe_interval, wilson_interval
from tools.outcomes.power import (
    ArmPower,
    CellSizing,
    LaunchPower,
    TestSizing,
    minimum_detectable_lift,
    size_test,
)
from tools.outcomes.testing import TestResult, holm, proportion_test, welch_test

__all__ = [
    "CI_METHOD",
    "ArmOutcomes",
    "ArmPower",
    "ArmResult",
    "ArmsAnalysis",
    "CellSizing",
    "ControlSummary",
    "ExperimentAnalysis",
    "ExperimentRequest",
    "FixedPolicy",
    "LaunchPower",
    "OutcomeDataError",
    "Policy",
    "PolicyValue",
    "RatioValue",
    "ReplayComparison",
    "ReplayResult",
    "SegmentAnalysis",
    "TestResult",
    "TestSizing",
    "ThompsonPolicy",
    "UniformPolicy",
    "WaveAllocation",
    "analyse_experiment",
    "analyse_file",
    "bootstrap_mean_difference",
    "compare_policies",
    "holm",
    "minimum_detectable_lift",
    "newcombe_interval",
    "proportion_test",
    "read_table",
    "replay",
    "size_test",
    "thompson_allocation",
    "welch_test",
    "wilson_interval",
]
