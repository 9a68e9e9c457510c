"""Brief files: YAML whose aliases would expand without bound (a 'billion laughs') is refused before it is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.brief import BriefError, load_brief


def test_yaml_aliases_are_refused_before_they_expand(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{x}: &{x} [{', '.join([f'*{p}'] * 9)}]" for p, x in zip("abcdefg", "bcdefgh", strict=True)]
    lines += ["name: Bomb", "goal: Expand", "audience: everyone", "banned_phrases: *h", "channels: [email]",
              "send_budget: 10"]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(BriefError, match=r"aliases \(\*name\) expand to [\d,]+ values, more than 100,000"):
        load_brief(path)


def test_a_few_aliases_that_share_a_value_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "brief.yaml"
    path.write_text("name: Shared\ngoal: Bring buyers back\naudience: &who lapsed customers\n"
                    "banned_phrases: &banned [cheap, free]\nchannels: [email]\nsend_budget: 10\n"
                    "disclaimer: *who\n", encoding="utf-8")
    brief = load_brief(path)
    assert brief.banned_phrases == ["cheap", "free"] and brief.disclaimer == "lapsed customers"


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("name: Loop\ngoal: x\naudience: y\nbanned_phrases: &a [cheap, *a]\n", encoding="utf-8")
    with pytest.raises(BriefError, match="expand without end"):
        load_brief(path)
