"""Atomic file writes: a temporary file in the target's folder, then os.replace.

Temporary names are short whatever the target's length (a 255-byte name is legal, and the
temporary must be too): a dot, at most HEAD_BYTES of the name, a tag hashed from the whole
name, a random token. ``temporaries_for`` finds an output's strays by the same pattern.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import secrets
from pathlib import Path

HEAD_BYTES = 48


def _prefix(name: str) -> str:
    """'.HEAD~TAG.': the part of a temporary name that depends only on the target's name."""
    encoded = os.fsencode(name)
    head = os.fsdecode(encoded[:HEAD_BYTES])
    tag = hashlib.blake2b(encoded, digest_size=8).hexdigest()
    return f".{head}~{tag}."


def temporary_name(name: str) -> str:
    """A fresh temporary name for a target called ``name``: at most 91 bytes."""
    return f"{_prefix(name)}{secrets.token_hex(8)}.tmp"


def temporaries_for(path) -> list[Path]:
    """The temporary files of writes to ``path`` that are (or were, if interrupted) under way."""
    path = Path(path)
    return sorted(path.parent.glob(f"{glob.escape(_prefix(path.name))}*.tmp"))


@contextlib.contextmanager
def atomic_output(path):
    """Yield a binary stream; the file appears at ``path`` only if the block succeeds.

    On any failure (an exception, Ctrl-C, a full disk) the temporary file is removed and
    whatever was at ``path`` before is left untouched. OSError from creating it propagates.
    """
    path = Path(path)
    # The name is chosen before the file exists, so that a signal landing just after the
    # file is created still finds a name to remove; it is random (64 bits) and created
    # exclusively, so that removing it can only remove this write's own file.
    temporary = path.with_name(temporary_name(path.name))
    try:
        with open(temporary, "xb") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException as err:
        if not (isinstance(err, FileExistsError) and err.filename == str(temporary)):
            temporary.unlink(missing_ok=True)
        raise
