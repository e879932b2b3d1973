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
``chromium``/``google-chrome``, or one fetched by ``plotly_get_chrome``). The browser is looked up
*before* kaleido is started (:func:`find_chrome`) and every render waits at most
``$SICNB_PNG_TIMEOUT_S`` seconds (default 60), so no figure call can hang. Without a working
browser the first figure warns once and every figure falls back to standalone plotly HTML whose
plotly.js is embedded once per notebook (no CDN): saved notebooks and their HTML renderings show
every figure with the network off.

Display mode (``SICNB_DISPLAY`` = ``auto`` | ``live`` | ``static``, or :func:`set_display_mode`):
``live`` emits the widget view plus the static fallback; ``static`` emits only what survives
without a kernel (used under papermill, where widget state is not kept). ``auto`` (default) is
``live`` when a widget-capable frontend is connected (see :func:`sicnb._frontend.live_frontend`).

Why one module of ~440 lines: the mimebundle, the PNG render with its watchdog and the HTML fallback guard
each other (a dead kaleido server must switch every later figure to HTML at once), so they share state here.
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import time
import warnings
from typing import Any, Iterable

from sicnb._frontend import live_frontend

__all__ = [
    "show",
    "show_widget",
    "display_mode",
    "set_display_mode",
    "figure_png",
    "figure_html",
    "find_chrome",
    "static_png_status",
    "plotlyjs_script",
    "static_bundle",
    "figure_bundle",
    "widget_bundle",
    "find_figures",
]

_log = logging.getLogger(__name__)
# plotly passes kaleido options that its persistent server ignores; said on every figure
warnings.filterwarnings("ignore", message="The kopts argument is ignored if using a server", category=UserWarning)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
_MODES = ("auto", "live", "static")
_mode_override: str | None = None
_png_lock = threading.Lock()
_png_state: dict[str, Any] = {"server": False, "failed": None}
#: plotly.js is embedded in the first HTML figure of a kernel only (one copy per notebook)
_plotlyjs_state: dict[str, bool] = {"emitted": False}
#: attribute marking sicnb's embedded plotly.js and its HTML figures (``sicnb.notebooks.to_html``
#: keeps exactly one copy of the script per HTML document)
PLOTLYJS_ATTR = "data-sicnb-plotlyjs"
FIGURE_HTML_CLASS = "sicnb-plotly-figure"
#: seconds one PNG may take (the first one includes the browser start) before sicnb falls back
DEFAULT_PNG_TIMEOUT_S = 60.0


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


def find_chrome() -> str | None:
    """Path of the Chrome/Chromium kaleido would start, or ``None`` when there is none.

    Same lookup as kaleido (choreographer): ``$BROWSER_PATH``, a browser fetched by
    ``plotly_get_chrome``/``kaleido_get_chrome``, ``chromium``/``google-chrome``/... on ``PATH``
    and their usual install locations. Only an executable file counts.
    """
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit if os.path.isfile(explicit) and os.access(explicit, os.X_OK) else None
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:  # kaleido < 1 or not installed
        return None
    try:
        path = Chromium.find_browser(skip_local=False)
    except Exception as exc:  # noqa: BLE001 - a failing lookup means: no browser
        _log.debug("choreographer browser lookup failed: %s", exc)
        return None
    return path if path and os.path.isfile(path) and os.access(path, os.X_OK) else None


def static_png_status() -> str:
    """``"png"`` while figures render as PNG, ``"off"`` (``SICNB_STATIC_PNG=0``) or ``"html: <why>"``."""
    if _png_disabled():
        return "off"
    if _png_state["failed"]:
        return "html: " + str(_png_state["failed"])
    return "png"


def _png_disabled() -> bool:
    return os.environ.get("SICNB_STATIC_PNG", "1").strip().lower() in ("0", "false", "no", "off")


def _png_timeout_s() -> float:
    try:
        return float(os.environ.get("SICNB_PNG_TIMEOUT_S", DEFAULT_PNG_TIMEOUT_S))
    except ValueError:
        return DEFAULT_PNG_TIMEOUT_S


def _start_png_server() -> None:
    """Keep one headless browser open for all PNGs of this process (kaleido's sync server)."""
    if _png_state["server"]:
        return
    import kaleido

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kaleido.start_sync_server(silence_warnings=True)
    _png_state["server"] = True


def _png_server_alive() -> bool:
    """False once kaleido's server thread has died (its queue would then never be answered)."""
    if not _png_state["server"]:
        return True
    try:
        from kaleido._sync_server import GlobalKaleidoServer
    except ImportError:  # pragma: no cover - layout of another kaleido version
        return True
    thread = getattr(GlobalKaleidoServer(), "_thread", None)
    return thread is None or thread.is_alive()


def _forget_png_server() -> None:
    """Mark kaleido's server closed without joining it: a hung server thread must not block the
    interpreter's exit (kaleido's own atexit hook joins the thread while it is marked running)."""
    if not _png_state["server"]:
        return
    try:
        from kaleido._sync_server import GlobalKaleidoServer

        GlobalKaleidoServer()._initialized = False  # noqa: SLF001 - its atexit close is then a no-op
    except Exception:  # noqa: BLE001 - another kaleido layout: nothing to forget
        pass
    _png_state["server"] = False


def _give_up_png(reason: str) -> None:
    """Remember that PNGs cannot be made in this process and say once how to get them."""
    _png_state["failed"] = reason
    _forget_png_server()
    warnings.warn(
        f"sicnb: no static PNGs of figures on this machine ({reason.splitlines()[0]}). Figures are "
        "kept as interactive plotly HTML with plotly.js embedded once per notebook, so saved "
        "notebooks still show them offline. To get PNGs, install Chrome or Chromium (Debian/Ubuntu: "
        "`apt-get install chromium`; macOS: Google Chrome in /Applications), or run "
        "`plotly_get_chrome` to download one for kaleido, or set BROWSER_PATH to a "
        "Chrome/Chromium executable; then restart the kernel.",
        RuntimeWarning,
        stacklevel=4,
    )


def figure_png(fig, width: int | None = None, height: int | None = None, scale: float = 1.0, timeout_s: float | None = None) -> bytes | None:
    """PNG bytes of a plotly figure via kaleido, or ``None`` (with one warning) when no browser works.

    Never blocks for longer than ``timeout_s`` (default ``$SICNB_PNG_TIMEOUT_S`` or 60 s): the
    browser is looked up first (:func:`find_chrome`), and the render runs in a daemon thread that
    is abandoned when kaleido's server dies or the time is up. After the first failure every
    later call returns ``None`` at once. ``SICNB_STATIC_PNG=0`` switches PNG rendering off.
    """
    if _png_disabled() or _png_state["failed"]:
        return None
    import plotly.io as pio

    plain = _as_plain_figure(fig)
    limit = _png_timeout_s() if timeout_s is None else float(timeout_s)
    with _png_lock:
        if _png_state["failed"]:
            return None
        if not _png_state["server"] and find_chrome() is None:
            _give_up_png("no Chrome/Chromium found for kaleido")
            return None
        try:
            _start_png_server()
        except Exception as exc:  # noqa: BLE001 - kaleido then starts one browser per image
            _log.debug("kaleido sync server unavailable: %s", exc)
        box: dict[str, Any] = {}
        done = threading.Event()

        def render() -> None:
            # no warnings.catch_warnings() here: it swaps the process-wide filters, and a thread
            # abandoned inside it would silence every later warning of the kernel
            try:
                box["png"] = pio.to_image(plain, format="png", width=width, height=height, scale=scale)
            except BaseException as exc:  # noqa: BLE001 - reported below
                box["error"] = exc
            finally:
                done.set()

        threading.Thread(target=render, name="sicnb-figure-png", daemon=True).start()
        deadline = time.monotonic() + limit
        while not done.wait(0.1):
            if not _png_server_alive():
                done.wait(0.5)  # the render may still report the server's own error
                if not done.is_set():
                    _give_up_png("kaleido's browser server stopped")
                    return None
                break
            if time.monotonic() > deadline:
                _give_up_png(f"no PNG after {limit:g} s; set SICNB_PNG_TIMEOUT_S to wait longer")
                return None
        if "error" in box:
            exc = box["error"]
            _give_up_png(f"{type(exc).__name__}: {exc}")
            return None
        return box.get("png")


def figure_html(fig) -> str:
    """Standalone HTML of a plotly figure that renders with no network.

    plotly.js is embedded in the first figure of this process only (a ~4.7 MB script marked
    ``data-sicnb-plotlyjs``); later figures reuse it, so a saved notebook carries one copy. The
    AMD loader that nbconvert's page may define is hidden while the bundle runs, so ``Plotly`` is
    always a global.
    """
    plain = _as_plain_figure(fig)
    div = plain.to_html(full_html=False, include_plotlyjs=False)
    head = ""
    if not _plotlyjs_state["emitted"]:
        head = plotlyjs_script()
        _plotlyjs_state["emitted"] = True
    return f'{head}<div class="{FIGURE_HTML_CLASS}">{div}</div>'


def plotlyjs_script() -> str:
    """One ``<script>`` with the plotly.js bundle of the installed plotly (no CDN)."""
    from plotly.offline import get_plotlyjs

    return (
        f"<script type=\"text/javascript\" {PLOTLYJS_ATTR}=\"1\">"
        "window.PlotlyConfig = {MathJaxConfig: 'local'};"
        "var __sicnbDefine = window.define; window.define = undefined;\n"
        + get_plotlyjs()
        + "\n;window.define = __sicnbDefine;</script>"
    )


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
    return {"text/html": figure_html(fig), "text/plain": text}


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
