"""Run the notebook series headless (papermill) and render HTML: ``sicnb run`` and ``sicnb demo``."""
from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

from sicnb.errors import InputError, OptionalDependencyError

__all__ = ["notebooks_dir", "list_notebooks", "run_notebook", "run_series", "SMOKE_PARAMETERS"]

#: parameters every notebook accepts (in its ``parameters`` cell)
SMOKE_PARAMETERS = {"smoke": True}


def notebooks_dir() -> Path:
    """``$SICNB_NOTEBOOKS`` or the ``notebooks/`` folder of the source checkout."""
    env = os.environ.get("SICNB_NOTEBOOKS")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "notebooks", here / "notebooks"):
        if cand.is_dir():
            return cand
    raise InputError("cannot find the notebooks folder; set SICNB_NOTEBOOKS to the repository's notebooks/ directory")


def list_notebooks() -> list[Path]:
    """The numbered notebooks (``NN_*.ipynb``) in order."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def _resolve(notebook: str | Path) -> Path:
    p = Path(notebook)
    if p.exists():
        return p
    hits = [n for n in list_notebooks() if n.name.startswith(str(notebook))]
    if len(hits) == 1:
        return hits[0]
    raise InputError(f"notebook {notebook!r} not found (neither a path nor a unique number prefix in {notebooks_dir()})")


def to_html(ipynb: Path) -> Path:
    """Render an executed notebook to standalone HTML next to it (widgets' saved state included)."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    out = ipynb.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def run_notebook(notebook: str | Path, out_dir: str | Path, parameters: dict[str, Any] | None = None, html: bool = True, kernel: str = "python3") -> Path:
    """Execute ``notebook`` with papermill into ``out_dir`` (same file name); optionally render HTML."""
    try:
        import papermill as pm
    except ImportError as exc:  # pragma: no cover
        raise OptionalDependencyError('papermill is needed to run notebooks: pip install "sicnb[notebooks]"') from exc
    src = _resolve(notebook)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / src.name
    pm.execute_notebook(str(src), str(dest), parameters=dict(parameters or {}), kernel_name=kernel, cwd=str(src.parent), progress_bar=False, log_output=False)
    if html:
        to_html(dest)
    return dest


def run_series(out_dir: str | Path, smoke: bool = False, only: list[str] | None = None, parameters: dict[str, Any] | None = None) -> list[dict]:
    """Execute every numbered notebook; a failing notebook is reported and the series continues."""
    results = []
    for nb in list_notebooks():
        if only and not any(o in nb.name for o in only):
            continue
        params = dict(parameters or {})
        if smoke:
            params.update(SMOKE_PARAMETERS)
        t0 = time.perf_counter()
        err = ""
        dest = Path(out_dir) / nb.name
        try:
            dest = run_notebook(nb, out_dir, parameters=params)
        except Exception as exc:  # noqa: BLE001 - the series continues
            err = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            traceback.print_exc()
        results.append({"notebook": nb.name, "output": str(dest), "seconds": time.perf_counter() - t0, "error": err})
    return results
