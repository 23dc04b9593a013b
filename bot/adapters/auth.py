"""API keys for the HTTP API: `Authorization: Bearer <key>` on every /v1 request when keys are set.

Keys come from `BOT_API_KEYS` (comma-separated) and/or the file `server.api_keys_file` names (one
key a line, `#` comments). They are never logged or echoed: a key is known to the rest of the
server only by its id, `key-` and the first 8 hex digits of its SHA-256 (what per-key limits count).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from bot.errors import ConfigError

__all__ = ["ENV_VAR", "ApiKeys", "is_loopback"]

ENV_VAR = "BOT_API_KEYS"


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class ApiKeys:
    """The accepted keys, kept as SHA-256 digests (equal length, so comparison time says nothing)."""

    def __init__(self, keys: list[str]) -> None:
        self._digests = [_digest(key) for key in keys]

    @classmethod
    def load(cls, path: Path | None = None, environ: Mapping[str, str] | None = None) -> ApiKeys:
        """Keys from `$BOT_API_KEYS` and the file at `path` (both may be given; either may be absent)."""
        env = os.environ if environ is None else environ
        keys = [key.strip() for key in env.get(ENV_VAR, "").split(",") if key.strip()]
        if path is not None:
            keys += _read_key_file(Path(path))
        return cls(keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:  # never the keys themselves
        return f"ApiKeys({len(self._digests)} keys)"

    def check(self, authorization: str | None) -> str | None:
        """The key id for a valid `Bearer <key>` header, else None. Every key is compared (no early
        exit), each in constant time, so the answer's timing does not leak which one nearly matched."""
        scheme, _, given = (authorization or "").partition(" ")
        offered = _digest(given.strip())
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(offered, digest)
        if not matched or scheme.lower() != "bearer":
            return None
        return key_id(given.strip())


def key_id(key: str) -> str:
    """A name for a key that is safe to log: not the key, and not enough to find it."""
    return "key-" + _digest(key).hex()[:8]


def _read_key_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "the API key file does not exist", field="server.api_keys_file",
                          fix="create it with one key a line, or remove server.api_keys_file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(path, f"the API key file cannot be read: {err}", field="server.api_keys_file",
                          fix="make it a readable UTF-8 text file with one key a line") from None
    keys = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not keys:
        raise ConfigError(path, "the API key file holds no key", field="server.api_keys_file",
                          fix="write one key a line (e.g. from `python -c 'import secrets; "
                          "print(secrets.token_urlsafe(32))'`)")
    for number, key in enumerate(keys, start=1):
        if any(char.isspace() for char in key) or "," in key:
            raise ConfigError(path, f"key {number} has a space or a comma in it", field="server.api_keys_file",
                              fix="a key is one word; put each key on its own line")
    return keys


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
