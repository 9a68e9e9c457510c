"""Fixtures of the portrait tests: a real Chroma server (``chroma run`` on loopback) and the MovieLens portraits
indexed on it, to compare with the embedded store of the session (``store``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.settings import Settings
from tests.tools.portraits.chroma_server import chroma_server
from tools.portraits import PortraitStore
from tools.shop import Shop


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a Chroma server for the session: ``CAMPAIGN_TEST_CHROMA_URL``, else one started here and stopped after."""
    with chroma_server(tmp_path_factory.mktemp("chroma-server")) as url:
        yield url


@pytest.fixture(scope="session")
def server_settings(settings: Settings, chroma_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session's settings with ``chroma_url`` set to the server and a home of their own (derived tables)."""
    home = tmp_path_factory.mktemp("server-home")
    (home / "data").symlink_to(settings.data_dir.resolve(), target_is_directory=True)
    return settings.model_copy(update={"chroma_url": chroma_url, "home": home})


@pytest.fixture(scope="session")
def server_store(server_settings: Settings, shop: Shop, store: PortraitStore) -> PortraitStore:
    """The real MovieLens portraits indexed on the Chroma server by the same build as the embedded store.

    Customers the session's embedded store has erased by then (tests/tools/audience erases one) are erased on the
    server too, so both hold the same portraits.
    """
    server = PortraitStore.from_settings(server_settings)
    server.build(shop)
    for customer_id in store.erased_ids():
        server.erase(customer_id)
    return server
