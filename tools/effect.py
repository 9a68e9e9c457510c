"""Effect prediction: a click model on bandit feedback derived from real ratings, and the ``effect`` tool.

The shop has no logged impressions or clicks, so the feedback is DERIVED, not observed: an impression = a
rating event, a click = rating ≥ 4. The model therefore estimates ``p_like``, the probability that a
customer rates a title 4 stars or more if shown it. Features come only from the history before the test
period (with each training row's own rating left out); the test set is the last 20% of events by time.
A logistic regression is fitted on the first 80% of the training period and Platt-calibrated on the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from pydantic import BaseModel, Field
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from agent.settings import Settings
from tools.click_features import CATEGORICAL, HistoryStats, feature_groups

if TYPE_CHECKING:
    from tools.shop import Shop
