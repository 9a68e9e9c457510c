"""The Women's E-Commerce Clothing Reviews as a product catalog with anonymous reviews.

:func:`load_clothing_catalog` turns the 23k reviews into a :class:`Catalog`: one product per reviewed item
(1,206), described by its most helpful real review, and the reviews themselves. The source has no customer
ids, so no customers are made up, and no product names, so titles are made from the class and the item id.
The other public datasets are loaded by :mod:`tools.shop.sources`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from agent.settings import Settings
from tools.shop.cleaning import CleaningReport, drop_duplicates, flag, impute
from tools.shop.datasets import require_fetched
from tools.shop.schema import Review, validate_table

CLOTHING_FILE = "WomensClothingE-CommerceReviews.parquet.brotli"
UNCATEGORISED = "Uncategorised"
_DESCRIPTION_CHARS = 400


@dataclass(frozen=True)
class Catalog:
    """A product catalog with anonymous reviews.

    Attributes:
        products: :class:`~tools.shop.schema.Product` rows; ``genres`` = [department, class]; ``title`` is made
            from the class and the source's item id (the source has no product names); ``description`` is
            the title and text of the item's most helpful real review (most positive feedback).
        reviews: :class:`~tools.shop.schema.Review` rows.
        report: What cleaning did.
    """

    products: pd.DataFrame
    reviews: pd.DataFrame
    report: CleaningReport


def load_clothing_catalog(settings: Settings) -> Catalog:
    """Load the Women's E-Commerce Clothing Reviews as a catalog (1,206 items) with anonymous reviews.

    Args:
        settings: Project settings.

    Returns:
        The catalog.

    Raises:
        ShopDataError: The dataset has not been fetched.
    """
    raw = pd.read_parquet(require_fetched(settings.data_dir / "clothing" / CLOTHING_FILE))
    report = CleaningReport(source="clothing-reviews", rows_in={"reviews": len(raw)})
    frame = drop_duplicates(raw, report, "reviews", "the same review submitted twice (same item, age, text, rating)")
    for column in ("Division Name", "Department Name", "Class Name"):
        same_item = frame.groupby("Clothing ID")[column].transform(
            lambda s: s.dropna().iloc[0] if s.notna().any() else None
        )
        frame = impute(frame, column, same_item, report, "reviews", "taken from another review of the same item")
        frame = impute(frame, column, UNCATEGORISED, report, "reviews", "no review of the item names it")
    frame = frame.assign(
        Title=frame["Title"].where(frame["Title"].str.strip() != "", None),
        **{"Review Text": frame["Review Text"].where(frame["Review Text"].str.strip() != "", None)},
    )
    no_text = frame["Title"].isna() & frame["Review Text"].isna()
    report.add("reviews", "no title and no text", "kept", int(no_text.sum()), "the rating still counts")
    flag(frame["Age"] > 90, report, "reviews", "outlier age", "reviewer says over 90; plausible, kept", "Age")
    reviews = validate_table(
        pd.DataFrame(
            {
                "product_id": frame["Clothing ID"].astype(str),
                "rating": frame["Rating"],
                "title": frame["Title"],
                "text": frame["Review Text"],
                "reviewer_age": frame["Age"],
                "recommended": frame["Recommended IND"],
                "positive_feedback": frame["Positive Feedback Count"],
            }
        ),
        Review,
        CLOTHING_FILE,
    )
    ranked = frame.assign(_len=frame["Review Text"].fillna("").str.len()).sort_values(
        ["Clothing ID", "Positive Feedback Count", "_len"], ascending=[True, False, False], kind="stable"
    )
    best = ranked.groupby("Clothing ID").head(1)
    description = (best["Title"].fillna("") + ". " + best["Review Text"].fillna("")).str.strip(". ")
    products = pd.DataFrame(
        {
            "product_id": best["Clothing ID"].astype(str).to_numpy(),
            "title": (best["Class Name"] + " item " + best["Clothing ID"].astype(str)).to_numpy(),
            "year": pd.array([None] * len(best), dtype="Int64"),
            "genres": [
                list(dict.fromkeys([d, c])) for d, c in zip(best["Department Name"], best["Class Name"], strict=True)
            ],
            "description": description.str.slice(0, _DESCRIPTION_CHARS).replace("", None).to_numpy(),
        }
    )
    report.rows_out = {"reviews": len(reviews), "products": len(products)}
    report.notes += [
        "no customer ids in the source: reviews stay anonymous (reviewer age only)",
        "product titles are made from the class and item id: the source has no product names",
    ]
    return Catalog(products=products, reviews=reviews, report=report)
