"""Run the notebook series headless (papermill) and render HTML: ``sicnb run`` and ``sicnb demo``."""
from __future__ import annotations

import os
import time
import traceback
from pathlib import Path
from typing import Any

from sicnb.errors import InputError, OptionalDependencyError

__all__ = ["notebooks_dir", "list_notebooks", "run_notebook", "run_series", "to_html", "live_frontend", "prune_widget_state", "SMOKE_PARAMETERS"]

#: parameters every notebook accepts (in its ``parameters`` cell)
SMOKE_PARAMETERS = {"smoke": True}


def live_frontend() -> bool:
    """True when this process is a Jupyter kernel with a widget-capable frontend attached.

    JupyterLab/Notebook 7 open the ``jupyter.widget.control`` comm when they connect, and kernels
    started by a Jupyter server get ``JPY_SESSION_NAME``; papermill/nbclient do neither, so there
    widget views would be lost and static output is used. ``SICNB_HEADLESS=1`` forces False.
    """
    if os.environ.get("SICNB_HEADLESS", "").strip().lower() in ("1", "true", "yes"):
        return False
    import sys

    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        return False
    if ip is None or not hasattr(ip, "kernel"):
        return False
    widget_mod = sys.modules.get("ipywidgets.widgets.widget")
    if widget_mod is not None and getattr(widget_mod.Widget, "_control_comm", None) is not None:
        return True
    return bool(os.environ.get("JPY_SESSION_NAME"))


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


#: nbconvert's output choice for saved notebooks: static images before live-only views, so
#: figures shown with ``sicnb.viz.show`` appear as their PNG (no kernel, no CDN needed)
HTML_DISPLAY_PRIORITY = [
    "image/png", "image/svg+xml", "image/jpeg", "text/html", "text/markdown", "text/latex",
    "application/vnd.jupyter.widget-view+json", "application/javascript", "text/plain",
]


def to_html(ipynb: Path) -> Path:
    """Render an executed notebook to standalone HTML next to it.

    Static images win over widget views; widget views are used only when the notebook saved
    widget state (otherwise their text fallback is shown instead of an empty box).
    """
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(ipynb, as_version=4)
    has_state = "application/vnd.jupyter.widget-state+json" in nb.metadata.get("widgets", {})
    priority = [m for m in HTML_DISPLAY_PRIORITY if has_state or m != "application/vnd.jupyter.widget-view+json"]
    from traitlets.config import Config

    exporter = HTMLExporter(config=Config({"NbConvertBase": {"display_data_priority": priority}}), template_name="lab")
    body, _ = exporter.from_notebook_node(nb)
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
    # the kernel inherits this: no frontend will keep widget views, so sicnb emits static output
    saved = os.environ.get("SICNB_HEADLESS")
    os.environ["SICNB_HEADLESS"] = "1"
    try:
        pm.execute_notebook(str(src), str(dest), parameters=dict(parameters or {}), kernel_name=kernel, cwd=str(src.parent), progress_bar=False, log_output=False)
    finally:
        if saved is None:
            os.environ.pop("SICNB_HEADLESS", None)
        else:
            os.environ["SICNB_HEADLESS"] = saved
    prune_widget_state(dest)
    if html:
        to_html(dest)
    return dest


def prune_widget_state(ipynb: Path) -> int:
    """Drop saved widget state that no output displays (e.g. a FigureWidget's 5 MB plotly.js bundle
    kept by nbclient although only its static PNG was shown). Returns the number of models dropped."""
    import json
    import re

    import nbformat

    nb = nbformat.read(ipynb, as_version=4)
    key = "application/vnd.jupyter.widget-state+json"
    state = nb.metadata.get("widgets", {}).get(key, {}).get("state")
    if not state:
        return 0
    wanted = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view and view.get("model_id"):
                wanted.append(view["model_id"])
    keep: set[str] = set()
    while wanted:
        mid = wanted.pop()
        if mid in keep or mid not in state:
            continue
        keep.add(mid)
        wanted.extend(re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[mid])))
    dropped = len(state) - len(keep)
    if not dropped:
        return 0
    if keep:
        nb.metadata["widgets"][key]["state"] = {k: v for k, v in state.items() if k in keep}
    else:
        del nb.metadata["widgets"]
    nbformat.write(nb, ipynb)
    return dropped


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
