"""The outcomes report: one HTML page, plots embedded, every text escaped (arm names come from uploaded files)."""

from __future__ import annotations

import base64
import re

import pandas as pd

from agent.settings import Settings
from tools.outcomes import ExperimentRequest, Prediction, analyse_experiment, check_predictions, render_report

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_embeds_both_plots_and_escapes_arm_names() -> None:
    evil = "<script>alert(1)</script> $x"
    data = pd.DataFrame({"arm": ["ctl"] * 50 + [evil] * 50 + ["B"] * 50,
                         "y": [1] * 5 + [0] * 45 + [1] * 20 + [0] * 30 + [1] * 8 + [0] * 42})
    analysis = analyse_experiment(data, ExperimentRequest(arm_column="arm", control="ctl", outcome="y"))
    calibration = check_predictions(data.rename(columns={"y": "value"}),
                                    [Prediction(arm=evil, point=0.3, low=0.2, high=0.5),
                                     Prediction(arm="B", point=0.3, low=0.2, high=0.4)],
                                    binary=True, predicted_metric="response <b>", observed_metric="y", pairing="p & q")
    assert calibration is not None
    page = render_report(analysis, [calibration], title="<i>plan</i>", context=["<img src=x onerror=alert(1)>"])
    assert "<script>" not in page and "<img src=x" not in page and "<i>plan</i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; $x" in page and "p &amp; q" in page
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" alt="([^"]+)">', page)
    assert [alt for _, alt in images] == ["lift per arm", "predicted against observed"]
    assert all(base64.b64decode(data).startswith(PNG) for data, _ in images)
    assert "Winner:</b> &lt;script&gt;" in page  # the evil arm's 40% against 10% wins


def test_a_file_without_predictions_says_so(settings: Settings) -> None:
    data = pd.read_csv(settings.shared_data_dir / "hillstrom_dev.csv", nrows=2000)
    analysis = analyse_experiment(data, ExperimentRequest(arm_column="segment", control="No E-Mail", outcome="visit"))
    page = render_report(analysis)
    assert "No predictions to compare" in page and page.count("<img ") == 1
    assert "Mens E-Mail" in page and "Womens E-Mail" in page
