# Sourced by the set-up scripts. pip_run runs "$VENV/bin/python -m pip ARGS" with this machine's noise
# filtered out (extra-index folders that lack a package print one warning each) and keeps pip's status.
pip_run() {
    local status=0
    "$VENV/bin/python" -m pip "$@" 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } || status=$?
    return "$status"
}
