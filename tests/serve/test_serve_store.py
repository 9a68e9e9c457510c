"""`campaign serve` on a corrupt portrait store: one line naming the store and the fix, exit 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from agent.settings import Settings


def test_a_corrupt_portrait_store_is_one_line_at_serve(settings: Settings, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "chroma").mkdir(parents=True)
    (home / "data").symlink_to(settings.data_dir.resolve(), target_is_directory=True)
    (home / "chroma" / "chroma.sqlite3").write_bytes(b"\x00not a database" * 256)
    env = {**os.environ, "CAMPAIGN_HOME": str(home), "CAMPAIGN_DEFAULT_SHOP": "movielens",
           "CAMPAIGN_DB_URL": f"sqlite:///{tmp_path / 'api.db'}", "CAMPAIGN_API_PORT": "1"}
    done = subprocess.run([str(Path(sys.executable).with_name("campaign")), "serve"], env=env, capture_output=True,
                          text=True,
                          timeout=600, check=False, cwd=Path(__file__).parents[2])
    assert done.returncode == 1, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "portrait store" in done.stderr and "campaign index" in done.stderr
