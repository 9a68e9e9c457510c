"""Erase a customer everywhere the project keeps them (right to be forgotten).

One call removes the customer's portrait from the vector store, its row from the in-memory index mirror,
its rows from the derived tables (profiles with RFM and segments) and from every stored shop's customer
and event tables, and records the erasure so later rebuilds skip the customer.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from agent.settings import Settings
from tools.portraits.store import PortraitStore
from tools.shop import erase_from_shops


class ErasureReport(BaseModel):
    """Where a customer was found and removed.

    Attributes:
        customer_id: Pseudonymised id.
        portrait: True when a portrait was in the vector store.
        derived_rows: Rows removed from the derived tables.
        shop_rows: Rows removed per stored shop file.
    """

    customer_id: str
    portrait: bool
    derived_rows: int = Field(ge=0)
    shop_rows: dict[str, int] = Field(default_factory=dict)


def erase_customer(settings: Settings, store: PortraitStore, customer_id: str) -> ErasureReport:
    """Erase a customer from the portrait store, its mirror, the derived tables and the stored shops.

    Args:
        settings: Project settings (stored shops live under ``settings.home``).
        store: The portrait store.
        customer_id: Pseudonymised id.

    Returns:
        What was removed where.
    """
    derived_before = len(store.tables.load()) if store.tables is not None else 0
    existed = store.erase(customer_id)
    derived_after = len(store.tables.load()) if store.tables is not None else 0
    return ErasureReport(
        customer_id=customer_id,
        portrait=existed,
        derived_rows=derived_before - derived_after,
        shop_rows=erase_from_shops(settings, customer_id),
    )
