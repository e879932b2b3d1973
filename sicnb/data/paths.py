"""Where data and models live: local directories first, then a download cache."""
from __future__ import annotations

import os
import tempfile
import urllib.request
from pathlib import Path

from sicnb.errors import DataUnavailableError

__all__ = ["data_dir", "cache_dir", "download"]


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The local data directory: ``explicit`` if given, else ``$SICNB_DATA_DIR``, else ``None``."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get("SICNB_DATA_DIR")
    return Path(env).expanduser() if env else None


def cache_dir(*parts: str) -> Path:
    """``$SICNB_CACHE_DIR`` (default ``~/.cache/sicnb``) joined with ``parts``; created on demand."""
    root = Path(os.environ.get("SICNB_CACHE_DIR", Path.home() / ".cache" / "sicnb")).expanduser()
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def download(url: str, dest: Path, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically (temporary file + rename); skip when ``dest`` exists."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - fixed https URLs
            data = resp.read()
    except Exception as exc:
        raise DataUnavailableError(
            f"Could not download {url} ({exc}). If you are offline, put the file at {dest} "
            "or point SICNB_DATA_DIR at a directory holding the dataset."
        ) from exc
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, dest)
    return dest
