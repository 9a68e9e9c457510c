"""Derived tables of the portrait index, saved for marketers and other tools.

``profiles.parquet`` holds one row per indexed customer: lifecycle, RFM scores, spend band, segment and
top genres (no text, no raw ids). ``segments.json`` holds the segment names and sizes. Files are written
atomically (a half-written table never replaces a good one), and :meth:`ProfileTables.erase` removes a
customer's rows, so an erasure reaches the derived tables too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from tools.portraits.portrait import Portrait
from tools.portraits.segments import SegmentModel

PROFILES_FILE = "profiles.parquet"
SEGMENTS_FILE = "segments.json"


def _replace_atomically(target: Path, write: object) -> None:
    partial = target.with_name(target.name + ".part")
    write(partial)  # type: ignore[operator]
    os.replace(partial, target)


class ProfileTables:
    """The folder of derived tables.

    Args:
        folder: Where the tables live (created on first save).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def profiles_path(self) -> Path:
        """Path of the profiles table."""
        return self.folder / PROFILES_FILE

    def save(self, portraits: list[Portrait], model: SegmentModel | None) -> None:
        """Write the profiles table (and the segments when there are any).

        Args:
            portraits: Indexed portraits (with segments set).
            model: The segmentation, or None.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame(
            {
                "customer_id": [p.customer_id for p in portraits],
                "lifecycle": [p.lifecycle for p in portraits],
                "recency_days": pd.array([p.recency_days for p in portraits], dtype="Int64"),
                "events": [p.n_ratings + p.n_purchases for p in portraits],
                "total_spend": pd.array([p.total_spend for p in portraits], dtype="Float64"),
                "rfm_r": pd.array([p.rfm_r for p in portraits], dtype="Int64"),
                "rfm_f": pd.array([p.rfm_f for p in portraits], dtype="Int64"),
                "rfm_m": pd.array([p.rfm_m for p in portraits], dtype="Int64"),
                "spend_band": pd.Series([p.spend_band for p in portraits], dtype=object),
                "segment": pd.array([p.segment for p in portraits], dtype="Int64"),
                "segment_name": pd.Series([p.segment_name for p in portraits], dtype=object),
                "top_genres": [", ".join(p.top_genres) for p in portraits],
            }
        )
        _replace_atomically(self.profiles_path, lambda path: frame.to_parquet(path, index=False))
        if model is not None:
            payload = [
                {"segment": n, "name": name, "size": size}
                for n, (name, size) in enumerate(zip(model.names, model.sizes, strict=True))
            ]
            _replace_atomically(
                self.folder / SEGMENTS_FILE,
                lambda path: path.write_text(json.dumps(payload, indent=1), encoding="utf-8"),
            )

    def load(self) -> pd.DataFrame:
        """Return the profiles table (empty before the first save)."""
        return pd.read_parquet(self.profiles_path) if self.profiles_path.is_file() else pd.DataFrame()

    def erase(self, customer_id: str) -> int:
        """Remove a customer's rows from every table holding customer ids; return rows removed."""
        removed = 0
        for path in sorted(self.folder.glob("*.parquet")):
            frame = pd.read_parquet(path)
            if "customer_id" not in frame.columns:
                continue
            hit = frame["customer_id"] == customer_id
            if hit.any():
                removed += int(hit.sum())
                kept = frame.loc[~hit]
                _replace_atomically(path, lambda p, kept=kept: kept.to_parquet(p, index=False))
        return removed
