"""Issue: the main job never hangs on a machine with no Chrome and no network.

Figures must come back (PNG or offline HTML) within a time limit, ``sicnb demo`` must finish with
a line per notebook and a summary, and its HTML must show every figure with the network off.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("plotly")
pytest.importorskip("kaleido")

import plotly.graph_objects as go  # noqa: E402

from sicnb.testing import no_browser_env  # noqa: E402
from sicnb.viz import display as vd  # noqa: E402

SCRIPT_RE = re.compile(r"<script[^>]*data-sicnb-plotlyjs[^>]*>", re.I)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture
def fresh_png_state(monkeypatch):
    monkeypatch.setitem(vd._png_state, "failed", None)
    monkeypatch.setitem(vd._png_state, "server", False)
    monkeypatch.delenv("SICNB_STATIC_PNG", raising=False)
    yield
    vd._forget_png_server()


def _fig() -> go.Figure:
    return go.Figure(go.Scatter(x=[0, 1, 2], y=[1.0, 3.0, 2.0]), layout={"title": {"text": "offline check"}})


# --------------------------------------------------------------------------------------------
# figure_png never blocks
# --------------------------------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_no_browser_env_hides_every_browser_from_a_child(tmp_path, monkeypatch):
    """``sicnb.testing.no_browser_env`` (used here and by bench/bench_demo.py): in the child, choreographer's lookup
    finds nothing even when this process's BROWSER_PATH names an executable, and PATH is this Python's scripts only."""
    monkeypatch.setenv("BROWSER_PATH", sys.executable)
    env = no_browser_env(tmp_path)
    code = ("import os, shutil, sys; from choreographer.browsers.chromium import Chromium; "
            "print(Chromium.find_browser(), os.environ.get('BROWSER_PATH'), os.environ['PATH'] == os.path.dirname(sys.executable), "
            "shutil.which('sh'))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=100)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["None", "None", "True", "None"]
    assert "BROWSER_PATH" in os.environ  # this process's environment is untouched


@pytest.mark.timeout(60)
def test_figure_png_returns_none_at_once_without_chrome(fresh_png_state, monkeypatch, tmp_path):
    from choreographer.browsers.chromium import Chromium

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(Chromium, "find_browser", classmethod(lambda cls, **kw: None))
    assert vd.find_chrome() is None
    with pytest.warns(RuntimeWarning, match="plotly_get_chrome"):
        assert vd.figure_png(_fig()) is None
    assert vd.static_png_status().startswith("html: no Chrome/Chromium")
    assert vd._png_state["server"] is False  # kaleido's server was never started
    bundle = vd.static_bundle(_fig())  # later figures: no second warning, offline HTML
    assert "image/png" not in bundle and vd.FIGURE_HTML_CLASS in bundle["text/html"]


@pytest.mark.timeout(60)
def test_browser_path_that_is_no_browser_falls_back(fresh_png_state, monkeypatch):
    """An executable that dies at once (BROWSER_PATH=/bin/false): kaleido's server thread dies;
    sicnb notices instead of waiting on its queue for ever."""
    false = shutil.which("false") or "/bin/false"
    monkeypatch.setenv("BROWSER_PATH", false)
    assert vd.find_chrome() == false
    with pytest.warns(RuntimeWarning, match="BROWSER_PATH"):
        assert vd.figure_png(_fig()) is None
    assert vd.static_png_status().startswith("html:")
    assert vd.figure_png(_fig()) is None  # and every later call returns at once


@pytest.mark.timeout(60)
def test_a_render_that_never_returns_is_abandoned_at_the_time_limit(fresh_png_state, monkeypatch):
    import plotly.io as pio

    never = threading.Event()
    monkeypatch.setattr(vd, "find_chrome", lambda: "/usr/bin/some-chrome")
    monkeypatch.setattr(vd, "_start_png_server", lambda: None)
    monkeypatch.setattr(pio, "to_image", lambda *a, **k: never.wait())
    try:
        with pytest.warns(RuntimeWarning, match="no PNG after 0.5 s"):
            assert vd.figure_png(_fig(), timeout_s=0.5) is None
    finally:
        never.set()


def test_browser_path_to_a_missing_file_is_no_browser(monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    assert vd.find_chrome() is None


# --------------------------------------------------------------------------------------------
# offline HTML: plotly.js once per document, no CDN
# --------------------------------------------------------------------------------------------
def test_figure_html_embeds_plotlyjs_once_per_kernel(monkeypatch):
    monkeypatch.setitem(vd._plotlyjs_state, "emitted", False)
    first, second = vd.figure_html(_fig()), vd.figure_html(_fig())
    assert len(SCRIPT_RE.findall(first)) == 1 and len(first) > 1_000_000  # the whole bundle
    assert not SCRIPT_RE.findall(second) and len(second) < 50_000
    for html in (first, second):
        assert "cdn.plot.ly/plotly" not in html and vd.FIGURE_HTML_CLASS in html and "offline check" in html


def test_to_html_keeps_exactly_one_plotlyjs_in_the_head(tmp_path, monkeypatch):
    """Two kernels' worth of outputs (a restarted kernel embeds plotly.js again) and a figure
    before the copy: the HTML document gets one copy, in <head>, before every figure."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from sicnb.notebooks import figure_counts, to_html

    cells = []
    for _ in range(2):
        monkeypatch.setitem(vd._plotlyjs_state, "emitted", False)
        for _ in range(2):
            cell = new_code_cell("show(fig)")
            cell.outputs = [new_output("display_data", data={"text/html": vd.figure_html(_fig()), "text/plain": "<fig>"})]
            cells.append(cell)
    late = new_code_cell("show(fig)")
    late.outputs = [new_output("display_data", data={"text/html": vd.figure_html(_fig()), "text/plain": "<fig>"})]
    nb = new_notebook(cells=[late] + cells)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert figure_counts(path) == {"png": 0, "html": 5}
    html = to_html(path).read_text()
    assert len(SCRIPT_RE.findall(html)) == 1
    head, body = html.split("</head>", 1)
    assert SCRIPT_RE.search(head) and body.count(f'class="{vd.FIGURE_HTML_CLASS}"') == 5


# --------------------------------------------------------------------------------------------
# sicnb demo: a line per notebook, a summary, failures named, a time limit
# --------------------------------------------------------------------------------------------
def _tiny_notebook(path: Path, code: str) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("smoke = False", metadata={"tags": ["parameters"]}), new_code_cell("x = 1"), new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.mark.notebook
@pytest.mark.timeout(300)
def test_demo_names_the_failing_cell_and_stops_a_hanging_notebook(tmp_path):
    pytest.importorskip("papermill")
    nbdir = tmp_path / "nbs"
    nbdir.mkdir()
    _tiny_notebook(nbdir / "01_ok.ipynb", "import plotly.graph_objects as go\nfrom sicnb.viz import show\nshow(go.Figure(go.Bar(x=['a'], y=[1])))")
    _tiny_notebook(nbdir / "02_fails.ipynb", "raise ValueError('bad lattice')")
    _tiny_notebook(nbdir / "03_hangs.ipynb", "import threading\nthreading.Event().wait()  # a kernel that never returns")
    env = dict(os.environ, SICNB_NOTEBOOKS=str(nbdir))
    proc = subprocess.run(
        [sys.executable, "-m", "sicnb.cli", "demo", "--smoke", "--timeout", "60", "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=280,
    )
    log = proc.stderr
    assert proc.returncode == 1, log
    assert re.search(r"01_ok\.ipynb\s+ok\s+[\d.]+ s, figures: \d PNG, \d HTML", log), log
    assert re.search(r"02_fails\.ipynb\s+failed", log) and "code cell 3 (In [4]): \"raise ValueError('bad lattice')\" -> ValueError: bad lattice" in log, log
    assert re.search(r"03_hangs\.ipynb\s+timeout", log) and "time limit of 60 s in code cell 3" in log, log
    assert "1 of 3 notebooks ok" in log and "FAILED: 02_fails.ipynb" in log and "TIMEOUT: 03_hangs.ipynb" in log
    assert (tmp_path / "out" / "01_ok.html").exists()


def _offline_render(html: Path, chromium: str) -> list[bool]:
    """Open ``html`` in headless Chromium with every non-file request refused; for each sicnb HTML
    figure, whether plotly drew it (an SVG inside its div)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_function("() => typeof window.Plotly !== 'undefined'", timeout=30_000)
            return page.evaluate(
                "() => Array.from(document.querySelectorAll('.sicnb-plotly-figure .plotly-graph-div'))"
                ".map(d => d.querySelector('.main-svg') !== null)"
            )
        finally:
            browser.close()


@pytest.mark.notebook
@pytest.mark.timeout(1500)
def test_demo_without_a_browser_finishes_with_offline_figures(tmp_path):
    """README's main job on a machine with no Chrome: notebook 00 and the figure-heavy notebook 01
    finish, every figure is embedded HTML that renders with the network off (checked in Chromium
    when the test machine has one: the browser is hidden from the demo, not from this test)."""
    pytest.importorskip("papermill")
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "sicnb.cli", "demo", "--smoke", "--only", "00_", "--only", "01_", "--timeout", "900", "--out", str(out)],
        env=no_browser_env(tmp_path), capture_output=True, text=True, timeout=1400,
    )
    log = proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "2 of 2 notebooks ok" in log and "0 static PNG" in log, log[-3000:]
    chromium = _chromium()
    for name in ("00_quickstart", "01_topological_screening"):
        html = (out / f"{name}.html")
        text = html.read_text()
        n_fig = text.count(f'class="{vd.FIGURE_HTML_CLASS}"')
        assert n_fig >= 2, f"{name}: {n_fig} HTML figures"
        assert len(SCRIPT_RE.findall(text)) == 1, f"{name}: plotly.js must be embedded exactly once"
        assert not re.search(r"<script[^>]+src=[\"'][^\"']*plotly[^\"']*\.js", text), f"{name}: plotly.js from a CDN"
        if chromium:
            drawn = _offline_render(html, chromium)
            assert len(drawn) == n_fig and all(drawn), f"{name}: figures drawn offline: {drawn}"
