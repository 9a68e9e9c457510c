"""SIGTERM to a campaign command unwinds it like Ctrl-C: its clean-ups run (campaign plan stops the embedded vLLM
server it started, instead of leaving it orphaned), and it exits 143 with one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import subprocess, sys, time
    import typer
    from agent.cli_output import run_command

    def action():
        # like ensure_llm_server: a server in its own process group, stopped when the block exits
        server = subprocess.Popen(["sleep", "600"], start_new_session=True)
        try:
            print(server.pid, flush=True)  # inside the try: a SIGTERM right after the pid is read still stops it
            while True:
                time.sleep(0.1)
        finally:
            server.terminate()
            server.wait()
            print("stopped", flush=True)

    try:
        run_command(action)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
""")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_sigterm_runs_the_commands_clean_ups_and_exits_143() -> None:
    child = subprocess.Popen([sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=Path(__file__).parents[2])
    assert child.stdout is not None
    server = int(child.stdout.readline())
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 143 and "terminated" in err
    assert out.strip() == "stopped"
    for _ in range(50):  # the server's exit is reaped by the child; give the kernel a moment to drop it
        if not _alive(server):
            break
        time.sleep(0.1)
    assert not _alive(server)
