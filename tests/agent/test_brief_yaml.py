"""Brief files: YAML that would expand without bound (aliases, a 'billion laughs') is refused before parsing it."""

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
    with pytest.raises(BriefError, match="aliases"):
        load_brief(path)
