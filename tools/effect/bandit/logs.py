"""Open Bandit Dataset (OBD) sample: logged bandit feedback and the production Bernoulli TS policy.

Real logs of ZOZOTOWN's fashion recommendations (10,000 impressions per policy and campaign, three slots).
:func:`load_bandit_log` reads one file the way zr-obp's ``OpenBanditDataset`` does (sorted by time, positions
0-based, user features one-hot with the first level dropped, item features label-encoded plus the numeric
``item_feature_0``). :func:`bts_action_dist` rebuilds the evaluation policy of zr-obp's OPE experiment: the
production Bernoulli Thompson Sampling with ZOZOTOWN's prior, whose slot probabilities are estimated by Monte
Carlo. obp itself cannot be installed (it requires python<3.11), so these pieces are re-implemented here; the
prior's parameters are read from obp's own source archive (``obp/policy/conf/prior_bts.yaml``).
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.preprocessing import LabelEncoder

from agent.settings import Settings
from tools.shop import OBD_CAMPAIGNS, OBD_POLICIES

PRIOR_MEMBER = "obp/policy/conf/prior_bts.yaml"
SIM_CHUNK = 50_000


class OpenBanditDataError(FileNotFoundError):
    """The OBD sample or obp's source archive is missing; the message says how to fetch it."""


@dataclass(frozen=True)
class BanditLog:
    """Logged bandit feedback of one policy and campaign, rows sorted by time.

    Attributes:
        policy: Logging (behaviour) policy, ``random`` or ``bts``.
        campaign: ``all``, ``men`` or ``women``.
        frame: The raw rows (all columns of the CSV), sorted by ``timestamp``.
        action: Item shown, one per row.
        position: Slot, 0-based (0 = the first of three).
        reward: Click (0/1).
        pscore: Probability that the logging policy showed this item in this slot.
        context: User features one-hot encoded (first level dropped), rows × features.
        action_context: Item features per item id: label-encoded categoricals then ``item_feature_0``.
    """

    policy: str
    campaign: str
    frame: pd.DataFrame
    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    context: np.ndarray
    action_context: np.ndarray

    @property
    def n_rounds(self) -> int:
        """Return the number of logged impressions."""
        return int(self.action.size)

    @property
    def n_actions(self) -> int:
        """Return the number of items of the campaign."""
        return int(self.action_context.shape[0])

    @property
    def len_list(self) -> int:
        """Return the number of slots."""
        return int(self.position.max() + 1)

    def take(self, rows: np.ndarray) -> BanditLog:
        """Return the log restricted to (or resampled by) ``rows``."""
        return replace(
            self, frame=self.frame.iloc[rows].reset_index(drop=True), action=self.action[rows],
            position=self.position[rows], reward=self.reward[rows], pscore=self.pscore[rows],
            context=self.context[rows],
        )  # fmt: skip

    def bootstrap(self, seed: int) -> BanditLog:
        """Return a bootstrap resample of the rounds (with replacement, same size).

        Uses numpy's legacy ``RandomState(seed).choice`` as zr-obp's ``sample_bootstrap_bandit_feedback`` does,
        so run ``b`` of our experiment draws the same rows as run ``b`` of theirs.
        """
        rows = np.random.RandomState(seed).choice(np.arange(self.n_rounds), size=self.n_rounds, replace=True)
        return self.take(rows)


def obd_dir(settings: Settings) -> Path:
    """Return the folder of the fetched OBD sample (``<data_dir>/obd``)."""
    return settings.data_dir / "obd"


def load_bandit_log(settings: Settings, policy: str, campaign: str) -> BanditLog:
    """Read one OBD file with zr-obp's default pre-processing.

    Args:
        settings: Project settings (gives ``data_dir``).
        policy: ``random`` or ``bts``.
        campaign: ``all``, ``men`` or ``women``.

    Raises:
        ValueError: Unknown policy or campaign.
        OpenBanditDataError: The files are not fetched.
    """
    if policy not in OBD_POLICIES or campaign not in OBD_CAMPAIGNS:
        raise ValueError(
            f"policy must be one of {OBD_POLICIES} and campaign one of {OBD_CAMPAIGNS}: {policy!r}, {campaign!r}"
        )
    folder = obd_dir(settings) / policy / campaign
    if not (folder / f"{campaign}.csv").is_file():
        raise OpenBanditDataError(f"OBD sample not found in {folder}: run `campaign data fetch` (make setup)")
    data = pd.read_csv(folder / f"{campaign}.csv", index_col=0)
    data = data.sort_values("timestamp", kind="stable").reset_index(drop=True)
    items = pd.read_csv(folder / "item_context.csv", index_col=0).sort_values("item_id").reset_index(drop=True)
    categorical = items.drop(columns=["item_id", "item_feature_0"]).apply(lambda c: LabelEncoder().fit_transform(c))
    action_context = np.column_stack([categorical.to_numpy(np.float64), items["item_feature_0"].to_numpy(np.float64)])
    users = data.loc[:, data.columns.str.startswith("user_feature")]
    positions = np.unique(data["position"].to_numpy(), return_inverse=True)[1]  # dense rank, 0-based
    return BanditLog(
        policy=policy, campaign=campaign, frame=data, action=data["item_id"].to_numpy(np.int64),
        position=positions.astype(np.int64), reward=data["click"].to_numpy(np.int64),
        pscore=data["propensity_score"].to_numpy(np.float64),
        context=pd.get_dummies(users, drop_first=True).to_numpy(np.float64), action_context=action_context,
    )  # fmt: skip


def on_policy_value(settings: Settings, policy: str, campaign: str) -> float:
    """Return the mean click of a policy's own log: the ground truth OPE estimates are judged against."""
    return float(load_bandit_log(settings, policy, campaign).reward.mean())


def load_bts_prior(settings: Settings, campaign: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ZOZOTOWN's production Beta prior (alpha, beta per item) for ``campaign``.

    Read from ``obp/policy/conf/prior_bts.yaml`` inside obp's source archive, which
    :func:`tools.shop.datasets.fetch_datasets` keeps under ``<data_dir>/downloads``.

    Raises:
        OpenBanditDataError: The archive is not there.
    """
    marker = obd_dir(settings) / ".fetched.json"
    archive_name = json.loads(marker.read_text())["archive"] if marker.is_file() else "obp-0.5.7.tar.gz"
    archive = settings.data_dir / "downloads" / archive_name.removesuffix(".tar.gz") / archive_name
    if not archive.is_file():
        raise OpenBanditDataError(
            f"obp source archive not found at {archive}: run tools.shop.datasets.fetch_datasets, or "
            "`pip download --no-deps --no-binary :all: --ignore-requires-python -d DIR obp==0.5.7`"
        )
    with tarfile.open(archive) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(PRIOR_MEMBER)), None)
        if member is None:
            raise OpenBanditDataError(f"{PRIOR_MEMBER} is not in {archive}")
        file = tar.extractfile(member)
        assert file is not None  # a regular file member
        prior = yaml.safe_load(file.read())[campaign]
    return np.asarray(prior["alpha"], dtype=np.float64), np.asarray(prior["beta"], dtype=np.float64)


def bts_action_dist(
    alpha: np.ndarray, beta: np.ndarray, len_list: int = 3, n_sim: int = 1_000_000, seed: int = 12345
) -> np.ndarray:
    """Estimate the slot probabilities of Bernoulli Thompson Sampling by Monte Carlo.

    Each simulated round draws one Beta(alpha, beta) sample per item and fills the slots with the items of
    the highest draws, in order. This is what obp's ``BernoulliTS.compute_batch_action_dist`` computes for a
    policy that has seen no data beyond its prior (hand-written because obp cannot be installed; vectorised).

    Args:
        alpha: Prior successes per item.
        beta: Prior failures per item.
        len_list: Number of slots.
        n_sim: Simulated rounds.
        seed: Random seed.

    Returns:
        Array (n_actions, len_list): probability that each item is shown in each slot; columns sum to 1.
    """
    if alpha.shape != beta.shape or alpha.ndim != 1:
        raise ValueError(f"alpha and beta must be 1-d of equal length, got {alpha.shape} and {beta.shape}")
    rng = np.random.default_rng(seed)
    counts = np.zeros((alpha.size, len_list))
    for start in range(0, n_sim, SIM_CHUNK):
        draws = rng.beta(alpha, beta, size=(min(SIM_CHUNK, n_sim - start), alpha.size))
        top = np.argsort(-draws, axis=1)[:, :len_list]
        for slot in range(len_list):
            counts[:, slot] += np.bincount(top[:, slot], minlength=alpha.size)
    return counts / n_sim
