"""Shared fixtures: a guard that fails any test reaching a real server unless marked ``e2e``, the real demo shop,
its portrait store, a small real headline model, and the plan loop's real tools."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import shutil
import socket
from collections.abc import Iterator

import pytest

from agent.llm import FunctionModel, LLMServerError, ScriptedModel, ensure_llm_server
from agent.loop import PlannerTools
from agent.settings import Settings
from tools.audience import ProfilesTool
from tools.copywriting import CopyTool
from tools.effect import ClickModel, EffectTool, PurchaseEffect, predict_effect
from tools.effect.headlines.evidence import ProvenExamples
from tools.effect.headlines.features import CACHE_FILE, embed_cached, headline_matrix
from tools.effect.headlines.model import HeadlineModel
from tools.effect.headlines.training import load_arms
from tools.portraits import PortraitStore, open_portrait_store
from tools.recommend import RecommendTool
from tools.shop import Shop, fetch_datasets, load_demo_shop, load_shop


class RealNetworkCallError(AssertionError):
    """A test tried to open a network connection without the ``e2e`` marker."""


@pytest.fixture(autouse=True)
def _no_real_servers(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection to a real server (LLM, Chroma, anything) from a test not marked ``e2e``."""
    if request.node.get_closest_marker("e2e") is not None:
        yield
        return
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family == socket.AF_UNIX:
            return real_connect(sock, address)  # type: ignore[arg-type]
        raise RealNetworkCallError(
            f"test {request.node.nodeid} tried to connect to {address!r}; "
            "use agent.llm.scripted.ScriptedModel or mark the test @pytest.mark.e2e"
        )

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded)
    yield


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A temporary home (fresh Chroma store) whose data folder is the real, already fetched `var/data`."""
    repo = Settings()
    fetch_datasets(repo)  # a no-op when `make setup` already fetched everything
    home = tmp_path_factory.mktemp("profiles-home")
    (home / "data").symlink_to(repo.data_dir.resolve(), target_is_directory=True)
    learned = repo.models_dir / "recommend"  # hybrid weights learned at set-up, keyed by a hash of their data
    if learned.is_dir():
        shutil.copytree(learned, home / "models" / "recommend")
    ranker = repo.models_dir / "effect" / "purchase_ranker-retail.joblib"  # trained at set-up (campaign train)
    if ranker.is_file():
        (home / "models" / "effect").mkdir(parents=True, exist_ok=True)
        shutil.copy2(ranker, home / "models" / "effect" / ranker.name)
    return Settings(home=home)


@pytest.fixture(scope="session")
def shop(settings: Settings) -> Shop:
    return load_demo_shop(settings)


@pytest.fixture(scope="session")
def store(settings: Settings, shop: Shop) -> PortraitStore:
    return open_portrait_store(settings, shop)


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """Base URL of a real LLM server for ``e2e`` tests: the embedded vLLM, started once per session if needed."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(ensure_llm_server(Settings()))
        except LLMServerError as exc:
            pytest.fail(f"no LLM server: {exc}", pytrace=False)
        yield url


@pytest.fixture(scope="session")
def small_headline_model(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[HeadlineModel, Settings]:
    """A real headline model fitted on 150 Upworthy tests (the full one takes minutes to embed), and its settings.

    Like the deployed model, it quotes the closest tested headlines of those tests as evidence.
    """
    home = tmp_path_factory.mktemp("headline-home")
    cached = Settings().models_dir / "headlines" / CACHE_FILE
    if cached.is_file():
        (home / "models" / "headlines").mkdir(parents=True)
        shutil.copy(cached, home / "models" / "headlines" / CACHE_FILE)
    local = settings.model_copy(update={"home": home})
    arms, _ = load_arms(local)
    arms = arms[arms["clickability_test_id"].isin(arms["clickability_test_id"].unique()[:150])]
    vectors = embed_cached(arms["headline"].tolist(), local)
    model = HeadlineModel.fit(headline_matrix(arms["headline"].tolist(), local, vectors), arms, 1e4)
    model.examples = ProvenExamples.from_arms(arms, vectors)  # ratings quote the closest tested headlines
    return model, local


@pytest.fixture(scope="session")
def real_tools(settings: Settings, shop: Shop, store: PortraitStore, small_headline_model) -> PlannerTools:
    """The plan loop's real tools on the demo shop; its copy model fails if called (tests give theirs)."""
    model, local = small_headline_model
    return PlannerTools(
        shop=shop, profiles=ProfilesTool(store), recommend=RecommendTool.fit(shop, settings),
        effect=EffectTool(shop, ClickModel.load_or_train(shop, settings)),
        copy=CopyTool(ScriptedModel(name="no copy model given")),
        predict_effect=functools.partial(predict_effect, headlines=model, settings=local),
    )


@pytest.fixture(scope="session")
def retail_shop(settings: Settings) -> Shop:
    """The retail demo shop (UCI Online Retail, prices in GBP)."""
    return load_shop(settings, "retail")


@pytest.fixture(scope="session")
def retail_store(settings: Settings, retail_shop: Shop) -> PortraitStore:
    return open_portrait_store(settings, retail_shop)


@pytest.fixture(scope="session")
def retail_tools(settings: Settings, retail_shop: Shop, retail_store: PortraitStore,
                 small_headline_model) -> PlannerTools:
    """The plan loop's real tools on the retail shop; its copy model fails if called (tests give theirs)."""
    model, local = small_headline_model
    return PlannerTools(
        shop=retail_shop, profiles=ProfilesTool(retail_store), recommend=RecommendTool.fit(retail_shop, settings),
        effect=PurchaseEffect.load_or_train(retail_shop, settings),
        copy=CopyTool(ScriptedModel(name="no copy model given")),
        predict_effect=functools.partial(predict_effect, headlines=model, settings=local),
    )


@pytest.fixture(scope="module")
def api_retail_tools(retail_tools: PlannerTools) -> PlannerTools:
    """The retail tools with the API tests' scripted copywriter (states the price and the offer)."""
    from tests.serve.api_harness import copywriter

    return dataclasses.replace(retail_tools, copy=CopyTool(FunctionModel(copywriter), retries=0))


@pytest.fixture(scope="module")
def api_tools(real_tools: PlannerTools) -> PlannerTools:
    """The real tools with the API tests' scripted copywriter (tests/serve/api_harness.py)."""
    from tests.serve.api_harness import copywriter

    return dataclasses.replace(real_tools, copy=CopyTool(FunctionModel(copywriter), retries=0))
