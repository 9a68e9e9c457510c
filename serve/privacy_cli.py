"""``campaign customers``: opt a customer out, or erase them everywhere (see :mod:`serve.privacy`).

Mounted in ``agent/cli.py`` with ``app.add_typer(customers_app, name="customers")``. Both commands open the shop's
portrait store (``--shop``, default the default shop) in this process; a running ``campaign serve`` sees the change
at its next search (its in-memory mirror reloads when the store's revision changes). Exit codes: 0 done, 1 an
error (one line), 2 an unknown customer for ``opt-out`` or an erasure not confirmed.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated

import typer
from rich.console import Console

from agent.settings import Settings, get_settings
from serve.privacy import CUSTOMER_ID_PATTERN, ErasureResult, OptOutResult, erase, opt_out
from tools.portraits import PortraitStore

console = Console(stderr=True)
customers_app = typer.Typer(help="Privacy operations by customer id: opt-out and erasure.", no_args_is_help=True)
Ids = Annotated[list[str], typer.Argument(help="Pseudonymised customer ids (e.g. c_682e63cfdad7c53a).")]
ShopOption = Annotated[str | None, typer.Option(help="The customers' shop (default: the default shop).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the results as JSON.")]


def _checked(ids: list[str]) -> list[str]:
    bad = [i for i in ids if not re.fullmatch(CUSTOMER_ID_PATTERN, i)]
    if bad:
        console.print(f"[red]error:[/red] not a customer id: {', '.join(bad[:5])}", highlight=False)
        raise typer.Exit(2)
    return list(dict.fromkeys(ids))


def _open(shop: str | None) -> tuple[Settings, str, PortraitStore]:
    from tools.portraits import open_portrait_store
    from tools.shop import ShopDataError, load_shop

    settings = get_settings()
    try:
        data = load_shop(settings, shop)
    except ShopDataError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    with console.status(f"opening the portrait store of shop {data.name!r} …"):
        return settings, data.name, open_portrait_store(settings, data)


@customers_app.command("opt-out")
def opt_out_command(ids: Ids, shop: ShopOption = None, json_out: JsonOption = False) -> None:
    """Opt customers out of every campaign (kept across index rebuilds)."""
    ids = _checked(ids)
    _, name, store = _open(shop)
    done: list[OptOutResult] = []
    unknown = []
    for customer_id in ids:
        try:
            done.append(opt_out(store, name, customer_id))
        except KeyError:
            unknown.append(customer_id)
    if json_out:
        sys.stdout.write(json.dumps({"opted_out": [d.model_dump() for d in done], "unknown": unknown}, indent=2) + "\n")
    else:
        sys.stdout.write(f"{len(done)} customer(s) of {name} opted out" + (
            f"; unknown: {', '.join(unknown)}" if unknown else "") + "\n")
    if unknown:
        raise typer.Exit(2)


@customers_app.command("erase")
def erase_command(ids: Ids, shop: ShopOption = None,
                  yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
                  json_out: JsonOption = False) -> None:
    """Erase customers everywhere: portraits, stored shop tables, saved models; their plans record the erasure.

    Source files under data/ are never changed; models are retrained without the erased customers.
    """
    ids = _checked(ids)
    if not yes and not typer.confirm(f"Erase {len(ids)} customer(s) everywhere? This cannot be undone.",
                                     err=True):
        raise typer.Exit(2)
    settings, name, store = _open(shop)
    results: list[ErasureResult] = [erase(settings, store, name, customer_id) for customer_id in ids]
    if json_out:
        sys.stdout.write(json.dumps([r.model_dump() for r in results], indent=2) + "\n")
        return
    for r in results:
        rows = sum(r.shop_rows.values()) + r.derived_rows
        sys.stdout.write(f"{r.customer_id}: portrait {'removed' if r.portrait else 'not found'}, {rows} stored row(s) "
                         f"removed, {len(r.plans)} plan(s) record the erasure, {len(r.models_removed)} saved "
                         "model(s) to retrain\n")
