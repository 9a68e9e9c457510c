"""Outcomes of a campaign or any experiment.

Lift against a control with intervals and Holm-corrected tests, predictions against observations (calibration),
an HTML report with plots, the minimum detectable lift and test sizing, and
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
from tools.outcomes.calibration import ArmCheck, Calibration, Prediction, check_predictions
from tools.outcomes.estimators import bootstrap_mean_difference, newcombe_interval, wilson_interval
from tools.outcomes.power import (
    ArmPower,
    CellSizing,
    LaunchPower,
    TestSizing,
    minimum_detectable_lift,
    size_test,
)
from tools.outcomes.report import calibration_plot, lift_plot, render_report
from tools.outcomes.testing import TestResult, holm, proportion_test, welch_test

__all__ = [
    "CI_METHOD",
    "ArmCheck",
    "ArmOutcomes",
    "ArmPower",
    "ArmResult",
    "ArmsAnalysis",
    "Calibration",
    "CellSizing",
    "ControlSummary",
    "ExperimentAnalysis",
    "ExperimentRequest",
    "FixedPolicy",
    "LaunchPower",
    "OutcomeDataError",
    "Policy",
    "PolicyValue",
    "Prediction",
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
    "calibration_plot",
    "check_predictions",
    "compare_policies",
    "holm",
    "lift_plot",
    "minimum_detectable_lift",
    "newcombe_interval",
    "proportion_test",
    "read_table",
    "render_report",
    "replay",
    "size_test",
    "thompson_allocation",
    "welch_test",
    "wilson_interval",
]
