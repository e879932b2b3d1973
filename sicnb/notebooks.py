"""Run the notebook series headless (papermill) and render HTML: ``sicnb run`` and ``sicnb demo``."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from sicnb._frontend import live_frontend  # noqa: F401 - re-exported: sicnb.notebooks.live_frontend stays public
from sicnb.errors import InputError, NotebookError, NotebookTimeoutError, OptionalDependencyError

__all__ = [
    "notebooks_dir",
    "list_notebooks",
    "run_notebook",
    "run_series",
    "NotebookRun",
    "to_html",
    "figure_counts",
    "live_frontend",
    "prune_widget_state",
    "SMOKE_PARAMETERS",
    "DEFAULT_NOTEBOOK_TIMEOUT_S",
]

#: parameters every notebook accepts (in its ``parameters`` cell)
SMOKE_PARAMETERS = {"smoke": True}
#: wall-time limit of one notebook in ``sicnb demo`` (seconds): smoke runs take 1-4 minutes each
DEFAULT_NOTEBOOK_TIMEOUT_S = {True: 900.0, False: 6 * 3600.0}


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
    out.write_text(_one_plotlyjs(body), encoding="utf-8")
    return out


def _one_plotlyjs(body: str) -> str:
    """Exactly one embedded plotly.js per HTML document, in ``<head>``, when any HTML figure needs it.

    Kernels embed plotly.js in their first HTML figure only; a restarted kernel or re-run cells can
    leave several copies or a copy after the first figure. Every copy is dropped and one is put
    in the head, before any figure script runs.
    """
    from sicnb.viz.display import FIGURE_HTML_CLASS, PLOTLYJS_ATTR, plotlyjs_script

    pattern = re.compile(r"<script[^>]*\b" + re.escape(PLOTLYJS_ATTR) + r"\b[^>]*>.*?</script>", re.DOTALL)
    stripped = pattern.sub("", body)
    if FIGURE_HTML_CLASS not in stripped:
        return stripped
    script = plotlyjs_script()
    if "</head>" in stripped:
        return stripped.replace("</head>", script + "\n</head>", 1)
    return script + stripped


def figure_counts(ipynb: Path) -> dict[str, int]:
    """Figures a saved notebook shows as static images (``png``) and as embedded plotly HTML (``html``)."""
    import nbformat

    from sicnb.viz.display import FIGURE_HTML_CLASS

    nb = nbformat.read(ipynb, as_version=4)
    counts = {"png": 0, "html": 0}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data:
                counts["png"] += 1
            elif FIGURE_HTML_CLASS in str(data.get("text/html", "")):
                counts["html"] += 1
    return counts


def run_notebook(
    notebook: str | Path,
    out_dir: str | Path,
    parameters: dict[str, Any] | None = None,
    html: bool = True,
    kernel: str = "python3",
    timeout_s: float | None = None,
) -> Path:
    """Execute ``notebook`` with papermill into ``out_dir`` (same file name); optionally render HTML.

    Papermill runs in a child process (its kernel gets ``SICNB_HEADLESS=1``: static figure output),
    so ``timeout_s`` is a hard wall-time limit for the whole notebook: past it the child and its
    kernel are stopped and :class:`~sicnb.errors.NotebookTimeoutError` names the running cell. A
    failing cell raises :class:`~sicnb.errors.NotebookError` naming the cell; the partly executed
    notebook is kept at the output path either way.
    """
    try:
        import papermill  # noqa: F401 - run in the child, checked here for the hint
    except ImportError as exc:  # pragma: no cover
        raise OptionalDependencyError('papermill is needed to run notebooks: pip install "sicnb[notebooks]"') from exc
    src = _resolve(notebook)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / src.name
    cmd = [
        sys.executable, "-m", "sicnb._notebook_runner", str(src), str(dest),
        "--kernel", kernel, "--cwd", str(src.parent), "--no-progress-bar",
        "--autosave-cell-every", "10", "-y", json.dumps(dict(parameters or {})),
    ]
    # the kernel inherits this: no frontend will keep widget views, so sicnb emits static output
    env = dict(os.environ, SICNB_HEADLESS="1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop_process_group(proc)
        cell = _running_cell(dest)
        raise NotebookTimeoutError(
            f"{src.name} ran past its time limit of {timeout_s:g} s{cell}; the partly executed notebook is "
            f"{dest}. Raise the limit (sicnb demo --timeout SECONDS) or run with smoke parameters."
        ) from None
    if proc.returncode != 0:
        failed = _failed_cell(dest)
        if failed is None:  # papermill itself failed (bad parameters, missing kernel, ...)
            tail = "\n".join(log.strip().splitlines()[-15:])
            raise NotebookError(f"{src.name}: papermill exited with status {proc.returncode}:\n{tail}")
        raise NotebookError(f"{src.name} failed in {failed}; the executed notebook with the traceback is {dest}")
    prune_widget_state(dest)
    if html:
        to_html(dest)
    return dest


def _stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL, the child's process group (its kernel exits with its parent)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def _cell_label(index: int, cell) -> str:
    """``code cell N (In [k]): 'first line'``: N counts the source notebook's code cells."""
    first = next((ln for ln in "".join(cell.get("source", "")).splitlines() if ln.strip()), "")
    count = cell.get("execution_count")
    where = f"code cell {index}" + (f" (In [{count}])" if count else "")
    return f"{where}: {first[:80]!r}"


def _code_cells(ipynb: Path) -> list:
    import nbformat

    try:
        nb = nbformat.read(ipynb, as_version=4)
    except Exception:  # noqa: BLE001 - not written (yet)
        return []
    # papermill adds error banners (markdown) and an injected-parameters cell: number the
    # source notebook's own code cells from 1
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]


def _failed_cell(ipynb: Path) -> str | None:
    """``cell N (In [k]): 'first line' -> Ename: evalue`` of the first cell with an error output."""
    for i, cell in enumerate(_code_cells(ipynb), 1):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"{_cell_label(i, cell)} -> {out.get('ename')}: {str(out.get('evalue', '')).splitlines()[0] if out.get('evalue') else ''}"
    return None


def _running_cell(ipynb: Path) -> str:
    """`` in cell N: 'first line'`` of the cell papermill marked running at its last autosave."""
    for i, cell in enumerate(_code_cells(ipynb), 1):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return f" in {_cell_label(i, cell)}"
    return ""


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


@dataclass
class NotebookRun:
    """Outcome of one notebook of a series (``error`` is empty when it passed)."""

    notebook: str
    output: str
    seconds: float
    status: str  # "ok", "failed" or "timeout"
    error: str = ""
    figures: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_series(
    out_dir: str | Path,
    smoke: bool = False,
    only: list[str] | None = None,
    parameters: dict[str, Any] | None = None,
    timeout_s: float | None = None,
    on_result: Callable[[NotebookRun], None] | None = None,
) -> list[NotebookRun]:
    """Execute every numbered notebook; a failing or timed-out notebook is reported and the series goes on.

    ``timeout_s`` limits each notebook (default :data:`DEFAULT_NOTEBOOK_TIMEOUT_S`: 15 min at smoke
    parameters, 6 h full size); ``on_result`` is called after each notebook (``sicnb demo`` prints a line).
    """
    limit = DEFAULT_NOTEBOOK_TIMEOUT_S[bool(smoke)] if timeout_s is None else timeout_s
    results = []
    for nb in list_notebooks():
        if only and not any(o in nb.name for o in only):
            continue
        params = dict(parameters or {})
        if smoke:
            params.update(SMOKE_PARAMETERS)
        t0 = time.perf_counter()
        dest = Path(out_dir) / nb.name
        status, err = "ok", ""
        try:
            dest = run_notebook(nb, out_dir, parameters=params, timeout_s=limit)
        except NotebookTimeoutError as exc:
            status, err = "timeout", str(exc)
        except Exception as exc:  # noqa: BLE001 - the series continues
            status, err = "failed", f"{type(exc).__name__}: {exc}" if not isinstance(exc, NotebookError) else str(exc)
        figures = figure_counts(dest) if dest.exists() else {}
        run = NotebookRun(nb.name, str(dest), time.perf_counter() - t0, status, err, figures)
        results.append(run)
        if on_result is not None:
            on_result(run)
    return results
