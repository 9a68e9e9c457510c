"""Eval fixtures: the real tools of each demo shop, built as `campaign eval` builds them (build_tools)."""

from __future__ import annotations

import pytest

from agent.assemble import build_tools
from agent.llm import FunctionModel
from agent.loop import PlannerTools
from agent.settings import Settings
from eval.backends import facts_copy
from tools.portraits import PortraitStore


@pytest.fixture(scope="session")
def movielens_eval_tools(settings: Settings, store: PortraitStore) -> PlannerTools:
    """The MovieLens shop's real tools (click model effect); copy: the scripted-facts stand-in."""
    del store  # built once per session by the fixture; build_tools reuses it
    return build_tools(settings, FunctionModel(facts_copy, name="scripted-facts"), shop="movielens")


@pytest.fixture(scope="session")
def retail_eval_tools(settings: Settings) -> PlannerTools:
    """The retail shop's real tools (UCI Online Retail, GBP; effect: expected incremental revenue per send)."""
    return build_tools(settings, FunctionModel(facts_copy, name="scripted-facts"), shop="retail")
