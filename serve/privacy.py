"""Privacy operations by customer id: opt-out and erasure (right to be forgotten), for the CLI and the API.

* :func:`opt_out` records a customer's opt-out in the shop's portrait store (kept across rebuilds); every audience
  excludes them from then on.
* :func:`erase` removes a customer everywhere the project keeps them:

  - the portrait store, its in-memory mirror and the derived profile tables, with the id put on the store's
    erasure ledger so a rebuild never brings the customer back (:func:`tools.portraits.erase_customer`);
  - every stored (imported) shop's customer, event and order tables; the source files under ``data/`` and the
    shared data folder are never modified: the tools built from a shop leave the ledger's customers out of every
    model's training data (:func:`agent.assemble.build_tools`);
  - saved models trained on the shop's customers (:data:`CUSTOMER_MODELS`), so the next start retrains them
    without the customer, and the API's in-memory tools of the shop (rebuilt on next use);
  - plans whose audience file lists the customer record the erasure next to that file
    (``<plan_id>.erasures.json``, :func:`plan_erasures`); neither the plan JSON nor the audience file (whose
    SHA-256 the plan keeps) is rewritten.

The routes (:func:`privacy_router`): ``POST /v1/customers/{customer_id}/opt-out`` and
``DELETE /v1/customers/{customer_id}``, each with an optional ``shop`` query parameter, need an ``admin`` key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from agent.audience_file import audience_dir
from agent.loop import PlannerTools, ToolSource
from agent.settings import Settings
from serve.auth import AUTH_RESPONSES, AdminKey
from tools.portraits import PortraitStore, erase_customer
from tools.shop import ShopDataError

CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,80}$"
ERASURES_SUFFIX = ".erasures.json"
CUSTOMER_MODELS: tuple[str, ...] = ("effect/click_model.joblib", "effect/model_card.json",
                                    "effect/purchase_ranker-{shop}.joblib", "uplift/uplift_model.joblib")
"""Saved models (under ``settings.models_dir``) fitted on customers' own rows; ``{shop}``: the shop's name. The
recommender's cached files hold item embeddings and blend weights keyed by a hash of the data, no customer rows."""


class OptOutResult(BaseModel):
    """A recorded opt-out.

    Attributes:
        customer_id: Pseudonymised id.
        shop: The shop whose customer it is.
        opted_out: True: excluded from every audience.
    """

    customer_id: str
    shop: str
    opted_out: bool


class ErasureResult(BaseModel):
    """Where a customer was found and removed.

    Attributes:
        customer_id: Pseudonymised id.
        shop: The shop whose portrait store was erased from.
        portrait: True when the store had the customer's portrait.
        derived_rows: Rows removed from the derived profile tables.
        shop_rows: Rows removed per stored shop file (``shop/file``).
        plans: Plans whose audience file lists the customer (each now records the erasure).
        models_removed: Saved model files removed (retrained without the customer on next use).
    """

    customer_id: str
    shop: str
    portrait: bool
    derived_rows: int = Field(ge=0)
    shop_rows: dict[str, int] = Field(default_factory=dict)
    plans: list[str] = Field(default_factory=list)
    models_removed: list[str] = Field(default_factory=list)


def opt_out(store: PortraitStore, shop: str, customer_id: str, opted_out: bool = True) -> OptOutResult:
    """Record (or with ``opted_out=False`` withdraw) a customer's opt-out.

    Raises:
        KeyError: the store has no such customer.
    """
    store.set_opt_out(customer_id, opted_out)
    return OptOutResult(customer_id=customer_id, shop=shop, opted_out=opted_out)


def plan_erasures(settings: Settings, plan_id: str) -> list[dict[str, str]]:
    """Return the erasures a plan records: ``{"customer_id", "erased_at"}`` per erased member (empty: none)."""
    path = audience_dir(settings) / f"{plan_id}{ERASURES_SUFFIX}"
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding="utf-8"))["erasures"])


def record_plan_erasures(settings: Settings, customer_id: str) -> list[str]:
    """Mark every plan whose audience file lists ``customer_id`` (see the module docstring); return their ids."""
    folder = audience_dir(settings)
    plans = []
    for file in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
        members = pd.read_parquet(file, columns=["customer_id"])["customer_id"]
        if not members.eq(customer_id).any():
            continue
        plan_id = file.stem
        entries = [e for e in plan_erasures(settings, plan_id) if e["customer_id"] != customer_id]
        entries.append({"customer_id": customer_id, "erased_at": datetime.now(UTC).isoformat(timespec="seconds")})
        target = folder / f"{plan_id}{ERASURES_SUFFIX}"
        partial = target.with_name(target.name + ".part")
        partial.write_text(json.dumps({"plan_id": plan_id, "erasures": entries}, indent=1), encoding="utf-8")
        os.replace(partial, target)
        plans.append(plan_id)
    return plans


def remove_customer_models(settings: Settings, shop: str) -> list[str]:
    """Delete the saved models fitted on ``shop``'s customers (:data:`CUSTOMER_MODELS`); return those removed."""
    removed = []
    for pattern in CUSTOMER_MODELS:
        path = settings.models_dir / pattern.format(shop=shop)
        if path.is_file():
            path.unlink()
            removed.append(str(path.relative_to(settings.models_dir)))
    return removed


def erase(settings: Settings, store: PortraitStore, shop: str, customer_id: str) -> ErasureResult:
    """Erase a customer everywhere (see the module docstring).

    Args:
        settings: Settings (home: stored shops, audience files, saved models).
        store: The portrait store of the customer's shop (with its in-memory mirror).
        shop: That shop's name.
        customer_id: Pseudonymised id.

    Returns:
        What was removed where.
    """
    report = erase_customer(settings, store, customer_id)
    return ErasureResult(
        customer_id=customer_id, shop=shop, portrait=report.portrait, derived_rows=report.derived_rows,
        shop_rows=report.shop_rows, plans=record_plan_erasures(settings, customer_id),
        models_removed=remove_customer_models(settings, shop))


CustomerId = Annotated[str, PathParam(pattern=CUSTOMER_ID_PATTERN, description="Pseudonymised customer id.")]
ShopName = Annotated[str | None, Query(description="The customer's shop; default: the default shop.")]


def privacy_router(settings: Settings, tools: ToolSource, forget: Callable[[str], None] | None = None) -> APIRouter:
    """The ``/v1/customers`` routes (admin keys only).

    Args:
        settings: Settings.
        tools: The shops' tools (a shop's portrait store is erased through them, so the mirror follows at once).
        forget: Drops a shop's in-memory tools after an erasure (they are rebuilt without the customer on next
            use); default: the tools' own ``forget`` when they have one.
    """
    router = APIRouter(prefix="/v1/customers", tags=["privacy"], responses=AUTH_RESPONSES)
    drop = forget or getattr(tools, "forget", None)

    def shop_tools(shop: str | None) -> PlannerTools:
        try:
            return tools.for_shop(shop)
        except ShopDataError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/{customer_id}/opt-out", response_model=OptOutResult,
                 summary="Opt a customer out of every campaign (admin)",
                 responses={404: {"description": "Unknown shop or customer"}})
    def post_opt_out(customer_id: CustomerId, key: AdminKey, shop: ShopName = None) -> OptOutResult:
        del key
        found = shop_tools(shop)
        try:
            return opt_out(found.profiles.store, found.shop.name, customer_id)
        except KeyError:
            raise HTTPException(404, f"no customer {customer_id!r} in shop {found.shop.name!r}") from None

    @router.delete("/{customer_id}", response_model=ErasureResult,
                   summary="Erase a customer everywhere: portraits, shop tables, caches; plans record it (admin)",
                   responses={404: {"description": "Unknown shop"}})
    def delete_customer(customer_id: CustomerId, key: AdminKey, shop: ShopName = None) -> ErasureResult:
        del key
        found = shop_tools(shop)
        result = erase(settings, found.profiles.store, found.shop.name, customer_id)
        if drop is not None:
            drop(found.shop.name)
        return result

    return router
