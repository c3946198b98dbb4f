"""Per-installation values kept under settings.var_dir: the LPS Instance UUID and the journal key.

The Instance of ContexteLPS is a UUID generated once per installation and kept (insi.md). The
journal keeps only a keyed hash of the request traits; the key is random and local, so that the
hash cannot be reversed by trying likely names and dates.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

INSTANCE_FILE = "insi-instance-id"
HASH_KEY_FILE = "insi-journal-key"


def _read_or_create(path: Path, make: str) -> str:
    """The file's content; created atomically (first writer wins) when absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(make + "\n")
    return make


def installation_instance(var_dir: Path) -> str:
    """The installation's Instance UUID, generated on first use and kept."""
    value = _read_or_create(var_dir / INSTANCE_FILE, str(uuid.uuid4()))
    return str(uuid.UUID(value))


def journal_hash_key(var_dir: Path) -> bytes:
    """The installation's secret key for hashing request traits in the journal."""
    return bytes.fromhex(_read_or_create(var_dir / HASH_KEY_FILE, secrets.token_hex(32)))
