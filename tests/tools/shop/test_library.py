"""A shop's own files: validated completely before anything is stored, so a bad file loses nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from agent.settings import Settings
from tools.shop import Shop, ShopDataError
from tools.shop.library import cleaning_report, ingest_shop_files, load_stored_shop, shops_dir, stored_shops


def _write(shop: Shop, folder: Path, customers: int = 20, extra: dict[str, str] | None = None) -> dict[str, Path]:
    """Write a real slice of MovieLens as the shop's own CSV files (raw ids: the first customers' pseudonyms)."""
    folder.mkdir(parents=True, exist_ok=True)
    people = shop.customers.head(customers).assign(**(extra or {}))
    events = shop.interactions[shop.interactions["customer_id"].isin(people["customer_id"])]
    products = shop.products[shop.products["product_id"].isin(events["product_id"])].copy()
    products["genres"] = products["genres"].str.join("|")
    files = {name: folder / f"{name}.csv" for name in ("customers", "products", "events")}
    people.to_csv(files["customers"], index=False)
    products.to_csv(files["products"], index=False)
    pd.concat([events, events.head(3)]).to_csv(files["events"], index=False)  # 3 events sent twice
    return files


def test_good_files_are_stored_and_cleaned(shop: Shop, settings: Settings, tmp_path: Path) -> None:
    home = settings.model_copy(update={"home": tmp_path / "home"})
    files = _write(shop, tmp_path / "in")
    report = ingest_shop_files(home, "my-shop", files["customers"], files["products"], files["events"])
    assert report.rows["customers"] == 20 and not report.replaced
    assert report.cleaning.counts()["events: duplicate rows (dropped)"] == 3
    stored = load_stored_shop(home, "my-shop")
    assert len(stored.interactions) == report.rows["events"] == report.cleaning.rows_in["events"] - 3
    assert stored.customers["customer_id"].str.fullmatch(r"c_[0-9a-f]{16}").all()
    assert all(isinstance(g, list) for g in stored.products["genres"])
    assert cleaning_report(home, "my-shop").rows_out == report.cleaning.rows_out
    assert stored_shops(home) == ["my-shop"]


def test_bad_file_names_row_and_column_and_keeps_the_stored_shop(
    shop: Shop, settings: Settings, tmp_path: Path
) -> None:
    home = settings.model_copy(update={"home": tmp_path / "home"})
    good = _write(shop, tmp_path / "v1")
    ingest_shop_files(home, "my-shop", good["customers"], good["products"], good["events"])
    before = load_stored_shop(home, "my-shop")
    bad = _write(shop, tmp_path / "v2", customers=40)  # a bigger update …
    frame = pd.read_csv(bad["events"], dtype=str)
    frame.loc[1234, "rating"] = "five"  # … with one bad cell deep inside
    frame.to_csv(bad["events"], index=False)
    with pytest.raises(ShopDataError) as caught:
        ingest_shop_files(home, "my-shop", bad["customers"], bad["products"], bad["events"])
    assert (caught.value.file, caught.value.row, caught.value.column) == ("events.csv", 1235, "rating")
    assert "value 'five' is not a number" in str(caught.value)
    after = load_stored_shop(home, "my-shop")
    pd.testing.assert_frame_equal(after.interactions, before.interactions)
    pd.testing.assert_frame_equal(after.customers, before.customers)
    assert sorted(p.name for p in shops_dir(home).iterdir()) == ["my-shop"]  # no staging left behind
    bad["products"].unlink()
    with pytest.raises(ShopDataError, match=r"products\.csv: file not found"):
        ingest_shop_files(home, "other", bad["customers"], bad["products"], bad["events"])
    assert stored_shops(home) == ["my-shop"]
    with pytest.raises(ShopDataError, match="shop name"):
        ingest_shop_files(home, "../escape", good["customers"], good["products"], good["events"])


def test_extra_personal_columns_are_never_stored(shop: Shop, settings: Settings, tmp_path: Path) -> None:
    home = settings.model_copy(update={"home": tmp_path / "home"})
    pii = {"email": "jane.doe@example.com", "name": "Jane Doe", "zip_code": "02139"}
    files = _write(shop, tmp_path / "in", extra=pii)
    ingest_shop_files(home, "pii", files["customers"], files["products"], files["events"])
    stored = load_stored_shop(home, "pii")
    assert list(stored.customers.columns) == ["customer_id", "age", "gender", "occupation", "region"]
    for path in (shops_dir(home) / "pii").iterdir():
        raw = path.read_bytes()
        assert b"example.com" not in raw and b"Jane" not in raw and b"02139" not in raw


@pytest.mark.parametrize("emptied", ["customers", "products", "events"])
def test_an_empty_file_never_replaces_the_stored_shop(shop: Shop, settings: Settings, tmp_path: Path,
                                                      emptied: str) -> None:
    home = settings.model_copy(update={"home": tmp_path / "home"})
    good = _write(shop, tmp_path / "v1")
    ingest_shop_files(home, "my-shop", good["customers"], good["products"], good["events"])
    before = load_stored_shop(home, "my-shop")
    update = _write(shop, tmp_path / "v2")
    header = update[emptied].read_text().splitlines()[0]
    update[emptied].write_text(header + "\n")  # an export that came out empty
    with pytest.raises(ShopDataError) as caught:  # no customers or products: its events name unknown ones
        ingest_shop_files(home, "my-shop", update["customers"], update["products"], update["events"])
    assert emptied != "events" or "no events rows" in str(caught.value)
    after = load_stored_shop(home, "my-shop")
    pd.testing.assert_frame_equal(after.customers, before.customers)
    pd.testing.assert_frame_equal(after.interactions, before.interactions)
