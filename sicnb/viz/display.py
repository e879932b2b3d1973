"""Display plotly figures and ipywidgets so they are live in JupyterLab *and* static when saved.

Every output made here is one mimebundle that carries several views of the same figure; each
frontend picks the richest one it can render:

===============================  ==========================================================
consumer                         what it shows
===============================  ==========================================================
JupyterLab, live kernel          the widget (``application/vnd.jupyter.widget-view+json``) or
                                 plotly's own renderer (``application/vnd.plotly.v1+json``),
                                 which also stores a PNG of the figure when the notebook is saved
JupyterLab, reopened / papermill plotly's renderer for figures; the PNG for widgets
``sicnb demo`` HTML (nbconvert)  the PNG (:func:`sicnb.notebooks.to_html` prefers images)
GitHub, nbviewer                 the PNG
===============================  ==========================================================

The PNG is rendered by kaleido with a headless Chrome/Chromium (``$BROWSER_PATH``, a system
``chromium``/``google-chrome``, or one fetched by ``plotly_get_chrome``). Without one, the static
view falls back to standalone plotly HTML (needs a browser with internet for plotly.js) and a
warning says how to get PNGs.

Display mode (``SICNB_DISPLAY`` = ``auto`` | ``live`` | ``static``, or :func:`set_display_mode`):
``live`` emits the widget view plus the static fallback; ``static`` emits only what survives
without a kernel (used under papermill, where widget state is not kept). ``auto`` (default) is
``live`` when a widget-capable frontend is connected (see :func:`sicnb.notebooks.live_frontend`).
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import warnings
from typing import Any, Iterable

from sicnb.notebooks import live_frontend

__all__ = [
    "show",
    "show_widget",
    "display_mode",
    "set_display_mode",
    "figure_png",
    "static_bundle",
    "figure_bundle",
    "widget_bundle",
    "find_figures",
]

_log = logging.getLogger(__name__)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_MODES = ("auto", "live", "static")
_mode_override: str | None = None
_png_lock = threading.Lock()
_png_state: dict[str, Any] = {"server": False, "failed": None}


def set_display_mode(mode: str | None) -> None:
    """Force ``"live"`` or ``"static"`` output for this kernel (``None``/``"auto"``: detect)."""
    global _mode_override
    if mode is not None and mode not in _MODES:
        raise ValueError(f"display mode must be one of {_MODES}, got {mode!r}")
    _mode_override = None if mode in (None, "auto") else mode


def display_mode() -> str:
    """``"live"`` (widget views + static fallback) or ``"static"`` (kernel-free outputs only)."""
    mode = _mode_override or os.environ.get("SICNB_DISPLAY", "auto").strip().lower() or "auto"
    if mode not in _MODES:
        warnings.warn(f"ignoring SICNB_DISPLAY={mode!r}; expected one of {_MODES}", stacklevel=2)
        mode = "auto"
    if mode == "auto":
        return "live" if live_frontend() else "static"
    return mode


# --------------------------------------------------------------------------------------------
# static renderings
# --------------------------------------------------------------------------------------------
def _as_plain_figure(fig):
    """A ``go.Figure`` copy of a figure or FigureWidget (kaleido and JSON want plain figures)."""
    import plotly.graph_objects as go

    if isinstance(fig, go.Figure):
        return fig
    if isinstance(fig, dict):
        return go.Figure(fig)
    return go.Figure(fig.to_dict())


def _start_png_server() -> None:
    """Keep one headless browser open for all PNGs of this process (kaleido's sync server)."""
    if _png_state["server"]:
        return
    import atexit

    import kaleido

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaleido.start_sync_server(silence_warnings=True)
    _png_state["server"] = True

    def _stop() -> None:
        try:
            kaleido.stop_sync_server(silence_warnings=True)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    atexit.register(_stop)


def figure_png(fig, width: int | None = None, height: int | None = None, scale: float = 1.0) -> bytes | None:
    """PNG bytes of a plotly figure via kaleido, or ``None`` (with one warning) when no browser works.

    ``SICNB_STATIC_PNG=0`` switches PNG rendering off (the HTML fallback is used instead).
    """
    if os.environ.get("SICNB_STATIC_PNG", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    if _png_state["failed"]:
        return None
    import plotly.io as pio

    plain = _as_plain_figure(fig)
    with _png_lock:
        try:
            try:
                _start_png_server()
            except Exception as exc:  # noqa: BLE001 - fall back to one browser per image
                _log.debug("kaleido sync server unavailable: %s", exc)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return pio.to_image(plain, format="png", width=width, height=height, scale=scale)
        except Exception as exc:  # noqa: BLE001 - any failure means: no PNG on this machine
            _png_state["failed"] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                "sicnb could not render static PNGs of figures (" + _png_state["failed"].splitlines()[0] + "). "
                "Saved notebooks will carry plotly HTML instead, which needs plotly.js from the internet. "
                "Install Chrome/Chromium (or run `plotly_get_chrome`) or set BROWSER_PATH to get PNGs.",
                RuntimeWarning,
                stacklevel=3,
            )
            return None


def _title(fig) -> str:
    try:
        t = fig.layout.title.text
    except AttributeError:
        t = None
    return str(t) if t else ""


def static_bundle(fig, alt: str | None = None) -> dict[str, Any]:
    """Kernel-free views of ``fig``: ``image/png`` (or plotly HTML when no PNG) plus ``text/plain``."""
    title = _title(fig)
    text = alt or (f"<plotly figure: {title}>" if title else "<plotly figure>")
    png = figure_png(fig)
    if png is not None:
        return {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": text}
    html = _as_plain_figure(fig).to_html(full_html=False, include_plotlyjs="cdn")
    return {"text/html": html, "text/plain": text}


def figure_bundle(fig, static: bool = True) -> dict[str, Any]:
    """Plotly's own mime view (interactive in JupyterLab even without a kernel) plus the static views."""
    import plotly.io as pio

    plain = _as_plain_figure(fig)
    bundle: dict[str, Any] = dict(pio.renderers["plotly_mimetype"].to_mimebundle(plain.to_dict()))
    if static:
        bundle.update(static_bundle(plain))
    else:
        bundle["text/plain"] = f"<plotly figure: {_title(plain)}>"
    return bundle


def _plotly_renders_png() -> bool:
    """True in a live JupyterLab/Notebook 7 session (kernel started by a Jupyter server), whose
    jupyterlab-plotly renderer stores a PNG of each figure it draws in the notebook."""
    return display_mode() == "live" and bool(os.environ.get("JPY_SESSION_NAME"))


def find_figures(widget) -> list:
    """Plotly FigureWidgets inside a widget tree (``children`` of boxes, depth-first)."""
    from plotly.basewidget import BaseFigureWidget

    found: list = []
    seen: set[int] = set()

    def walk(w) -> None:
        if id(w) in seen:
            return
        seen.add(id(w))
        if isinstance(w, BaseFigureWidget):
            found.append(w)
            return
        for child in getattr(w, "children", ()) or ():
            walk(child)

    walk(widget)
    return found


def _widget_view(widget) -> dict[str, Any]:
    bundle = widget._repr_mimebundle_() if hasattr(widget, "_repr_mimebundle_") else None
    if isinstance(bundle, tuple):
        bundle = bundle[0]
    if not bundle or WIDGET_MIME not in bundle:
        model_id = getattr(widget, "model_id", None) or getattr(widget, "_model_id", None)
        if not model_id:
            raise TypeError(f"{type(widget).__name__} is not a displayable ipywidgets widget")
        bundle = {WIDGET_MIME: {"version_major": 2, "version_minor": 0, "model_id": model_id}}
    return {WIDGET_MIME: bundle[WIDGET_MIME]}


def widget_bundle(widget, static_fig=None, alt: str | None = None) -> dict[str, Any]:
    """The widget view plus a static fallback rendered from ``static_fig`` (or the widget's figures)."""
    bundle = _widget_view(widget)
    bundle.update(_static_for_widget(widget, static_fig, alt))
    return bundle


def _static_for_widget(widget, static_fig, alt: str | None) -> dict[str, Any]:
    name = type(widget).__name__
    figs: Iterable = [static_fig] if static_fig is not None else find_figures(widget)
    figs = [f for f in figs if f is not None]
    if not figs:
        return {"text/plain": alt or f"<{name}: interactive widget; run the notebook in Jupyter to see it>"}
    if len(figs) == 1:
        return static_bundle(figs[0], alt=alt or f"<{name}: {_title(figs[0]) or 'interactive figure'}>")
    # several figures in one widget: stack their images into one HTML fallback
    parts, texts = [], []
    for f in figs:
        sb = static_bundle(f)
        if "image/png" in sb:
            parts.append(f'<img src="data:image/png;base64,{sb["image/png"]}" alt="{_title(f)}"/>')
        else:
            parts.append(sb["text/html"])
        texts.append(sb["text/plain"])
    return {"text/html": "<div>" + "".join(parts) + "</div>", "text/plain": alt or "\n".join(texts)}


# --------------------------------------------------------------------------------------------
# public entry points
# --------------------------------------------------------------------------------------------
def _display(bundle: dict[str, Any]) -> None:
    from IPython.display import display

    display(bundle, raw=True)


def show_widget(widget, static_fig=None, alt: str | None = None) -> None:
    """Display an ipywidgets widget (FigureWidget, VBox of controls + figure, nglview view, ...).

    Live: the widget plus a static PNG of ``static_fig`` (default: the FigureWidgets found inside
    ``widget``) that kernel-free renderers use. Static mode: only the PNG/HTML fallback.
    """
    if display_mode() == "live":
        _display(widget_bundle(widget, static_fig, alt))
    else:
        _display(_static_for_widget(widget, static_fig, alt))


def show(obj, static: bool = True, static_fig=None) -> None:
    """Display a plotly figure or an ipywidgets widget, live in JupyterLab and static when saved.

    ``go.Figure``: plotly's mime view + PNG. ``FigureWidget`` or any widget: see :func:`show_widget`
    (``static_fig`` overrides the figure used for the static copy). ``static=False`` skips the PNG.
    """
    import plotly.graph_objects as go
    from plotly.basewidget import BaseFigureWidget

    if isinstance(obj, (go.Figure, dict)) and not isinstance(obj, BaseFigureWidget):
        # In JupyterLab/Notebook 7 the plotly renderer draws the live figure and writes its own PNG
        # into the saved notebook; elsewhere (papermill, other frontends) kaleido makes the PNG here.
        _display(figure_bundle(obj, static=static and not _plotly_renders_png()))
        return
    if isinstance(obj, BaseFigureWidget) and display_mode() == "static":
        _display(figure_bundle(obj, static=static))
        return
    try:
        import ipywidgets
    except ImportError:  # pragma: no cover - ipywidgets is a notebooks dependency
        ipywidgets = None
    if ipywidgets is not None and isinstance(obj, ipywidgets.Widget):
        if not static and display_mode() == "live":
            _display(_widget_view(obj) | {"text/plain": f"<{type(obj).__name__}>"})
        else:
            show_widget(obj, static_fig=static_fig)
        return
    from IPython.display import display

    display(obj)
