"""The Jupyter experience in a real browser: JupyterLab + headless Chromium driven by Playwright.

For every notebook in ``notebooks/`` (smoke parameters injected into a copy): open it in JupyterLab,
run all cells, and check in the DOM that

* no cell raised, and no widget shows "Loading widget..." or "Error displaying widget";
* every viewer output (a widget view or plotly output holding a ``<canvas>`` or a plotly SVG) rendered
  with visible content (its screenshot is not blank);
* moving an ipywidgets slider that sits next to a figure changes that figure.

A screenshot of each viewer (and before/after slider screenshots) goes to ``test-artifacts/browser/``
(``$SICNB_TEST_ARTIFACTS`` overrides). Needs Chromium (Debian package ``chromium``, or
``$SICNB_CHROMIUM``) and the ``playwright`` Python package; skips with the reason otherwise. The whole
module shares one hard deadline (``$SICNB_BROWSER_DEADLINE_S``, default 330 s).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ARTIFACTS = Path(os.environ.get("SICNB_TEST_ARTIFACTS", REPO / "test-artifacts")) / "browser"
DEADLINE_S = float(os.environ.get("SICNB_BROWSER_DEADLINE_S", "330"))
#: most seconds one notebook may take to execute at smoke parameters in the browser
NOTEBOOK_S = float(os.environ.get("SICNB_BROWSER_NOTEBOOK_S", "150"))
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-dev-shm-usage", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
]


def _chromium() -> str | None:
    env = os.environ.get("SICNB_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Deadline:
    """One wall-clock budget for the whole module; every wait takes at most what is left."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self, cap: float | None = None) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            pytest.fail(f"browser test exceeded its overall deadline of {DEADLINE_S:.0f} s")
        return min(left, cap) if cap else left

    def ms(self, cap: float | None = None) -> float:
        return 1000.0 * self.left(cap)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smoke_copy(src: Path, dest_dir: Path) -> Path:
    """A copy of ``src`` without outputs and with ``smoke = True`` injected after the parameters cell."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(src))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nb = parameterize_notebook(nb, {"smoke": True})
    dest = dest_dir / src.name
    nbformat.write(nb, dest)
    return dest


def _write_lab_settings(settings: Path, config: Path) -> None:
    """No news/update pop-ups, no "Build Recommended" dialog (dash ships a source extension that
    JupyterLab would offer to build); render every cell (no windowing) so all outputs are in the DOM."""
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps({"buildCheck": False, "buildAvailable": False}))
    files = {
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"checkForUpdates": False, "fetchNews": "false"},
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for rel, content in files.items():
        p = settings / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(content))


@pytest.fixture(scope="module")
def deadline() -> Deadline:
    return Deadline(DEADLINE_S)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, deadline, watchdog):
    """A JupyterLab server on localhost with a token, serving smoke copies of the notebooks."""
    if not NOTEBOOKS:
        pytest.skip("no notebooks in notebooks/")
    if _chromium() is None:
        pytest.skip("Chromium not found: install the Debian package `chromium` (or set SICNB_CHROMIUM)")
    pytest.importorskip("playwright.sync_api", reason="needs the `playwright` Python package")
    pytest.importorskip("jupyterlab", reason="needs JupyterLab")
    root = tmp_path_factory.mktemp("lab")
    work = root / "notebooks"
    work.mkdir()
    for nb in NOTEBOOKS:
        _smoke_copy(nb, work)
    _write_lab_settings(root / "settings", root / "config")
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
        "SICNB_CACHE_DIR": str(root / "cache"), "PYTHONUNBUFFERED": "1",
        # live widgets are what this test checks; their kaleido PNG copies are checked by
        # test_viz_display and the papermill notebook test, so skip them here (saves minutes)
        "SICNB_STATIC_PNG": "0",
    })
    env.pop("SICNB_HEADLESS", None)
    env.pop("SICNB_DISPLAY", None)
    log = open(root / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    watchdog.append(proc)
    base = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + deadline.left(120)
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{(root / 'jupyterlab.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                pytest.fail(f"JupyterLab did not answer within its start-up budget:\n{(root / 'jupyterlab.log').read_text()[-3000:]}")
            try:
                proc.wait(timeout=0.5)  # doubles as the poll interval; returns early if the server died
            except subprocess.TimeoutExpired:
                pass
        yield {"base": base, "token": token, "root": root, "log": root / "jupyterlab.log"}
    finally:
        _stop_group(proc)
        log.close()


@pytest.fixture(scope="module")
def browser(lab, deadline, watchdog, tmp_path_factory):
    """Headless Chromium started here (fresh profile, no background networking), driven over CDP."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [_chromium(), "--headless=new", f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         f"--user-data-dir={profile}", *CHROMIUM_ARGS, "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    watchdog.append(proc)
    try:
        end = time.monotonic() + deadline.left(60)
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"Chromium did not start (exit code {proc.poll()})")
            try:
                proc.wait(timeout=0.5)  # the poll interval; returns early if Chromium died
            except subprocess.TimeoutExpired:
                pass
        with sync_playwright() as p:
            b = p.chromium.connect_over_cdp(f"http://127.0.0.1:{port}", timeout=deadline.ms(60))
            try:
                yield b
            finally:
                try:
                    b.close()
                except Exception:  # noqa: BLE001 - the watchdog may have killed it already
                    pass
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session`` together with its children (kernels, renderers)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    # children left in the group after the leader exited
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture(scope="module")
def watchdog(deadline):
    """Hard stop: past the overall deadline (plus a short grace) kill JupyterLab and Chromium, so a
    hung page or kernel ends the module instead of stalling CI; pending Playwright calls then raise."""
    procs: list[subprocess.Popen] = []

    def fire() -> None:
        for pr in procs:
            _stop_group(pr)

    timer = threading.Timer(max(1.0, deadline.end - time.monotonic()) + 20.0, fire)
    timer.daemon = True
    timer.start()
    yield procs
    timer.cancel()


@pytest.fixture(scope="module")
def lab_page(lab, browser, deadline):
    """One JupyterLab page for all notebooks (the app loads once; each notebook is opened in it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{lab['base']}/lab?token={lab['token']}&reset", timeout=deadline.ms(90))
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=deadline.ms(90), polling=500)
    page.evaluate("() => window.jupyterapp.restored")
    try:
        yield page
    finally:
        try:
            context.close()
        except Exception:  # noqa: BLE001 - the watchdog may have killed the browser
            pass


# --------------------------------------------------------------------------------------------
# page helpers (all waits are Playwright waits bounded by the module deadline)
# --------------------------------------------------------------------------------------------
_STATE_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const w = Array.from(app.shell.widgets('main')).find(x => x.context && x.context.path === name && x.content);
  if (!w) return null;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  let done = 0, running = 0; const errors = [];
  for (const c of cells) {
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue + '\\n' + (o.traceback || []).join('\\n'));
    }
    if (c.model.executionState === 'running' || (c.promptNode && c.promptNode.textContent.includes('*'))) running++;
    else if (c.model.executionCount !== null) done++;
  }
  return {kernel: kernel ? kernel.status : null, n: cells.length, done, running, errors};
}
"""

_VIEWERS_JS = """
() => {
  const nodes = Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'));
  return nodes.map((n, i) => {
    n.setAttribute('data-sicnb-idx', String(i));
    const text = n.textContent || '';
    const plots = Array.from(n.querySelectorAll('.js-plotly-plot')).concat(n.matches('.js-plotly-plot') ? [n] : []);
    const canvases = Array.from(n.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0);
    const kind = n.classList.contains('jp-RenderedPlotly') ? 'plotly'
      : (n.querySelector('.jupyter-widgets') ? 'widget' : (n.getAttribute('data-mime-type') || 'other'));
    return {
      idx: i, kind,
      loading: text.includes('Loading widget'), error: text.includes('Error displaying widget') || !!n.querySelector('.jupyter-widgets-error-widget'),
      plotly: plots.length + (kind === 'plotly' && !plots.length ? 1 : 0),
      svg: plots.filter(p => p.querySelector('svg.main-svg')).length,
      canvas: canvases.length, slider: n.querySelectorAll('.widget-slider .noUi-handle, .widget-slider input[type=range]').length,
    };
  });
}
"""


_FIG_SIGNATURE_JS = """
(idx) => {
  const out = document.querySelector(`[data-sicnb-idx='${idx}']`);
  if (!out) return 'missing';
  const gd = out.querySelector('.js-plotly-plot');
  let s = '';
  if (gd && gd.data) s = JSON.stringify([gd.data, gd.layout && gd.layout.title]);
  else if (gd) s = gd.innerHTML;
  else s = Array.from(out.querySelectorAll('canvas')).map(c => c.toDataURL()).join('|');
  let h = 5381;
  for (let i = 0; i < s.length; i++) h = ((h * 33) ^ s.charCodeAt(i)) >>> 0;
  return s.length + ':' + h;
}
"""


def _open_and_run(page, lab, name: str, deadline: Deadline) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.evaluate("(path) => window.jupyterapp.commands.execute('docmanager:open', {path}).then(() => true)", name)
    page.wait_for_function(
        "(name) => { const s = (" + _STATE_JS + ")(name); return s && s.kernel === 'idle'; }",
        arg=name, timeout=deadline.ms(120), polling=500,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        page.wait_for_function(
            "(name) => { const s = (" + _STATE_JS + ")(name);"
            " return s && (s.errors.length > 0 || (s.done === s.n && s.running === 0 && s.kernel === 'idle')); }",
            arg=name, timeout=deadline.ms(NOTEBOOK_S), polling=1000,
        )
    except PlaywrightTimeout:
        st = page.evaluate(_STATE_JS, name)
        pytest.fail(f"{name} did not finish running within {NOTEBOOK_S:.0f} s at smoke parameters in JupyterLab "
                    f"({st and st['done']}/{st and st['n']} code cells done)")
    return page.evaluate(_STATE_JS, name)


_CLOSE_JS = """
async (name) => {
  const app = window.jupyterapp;
  const w = Array.from(app.shell.widgets('main')).find(x => x.context && x.context.path === name);
  if (!w) return;
  try { await w.sessionContext.shutdown(); } catch (e) {}
  w.context.model.dirty = false;
  w.dispose();
}
"""


def _screenshot(locator, path: Path, deadline: Deadline) -> bytes:
    """Element screenshot; plotly may replace the element while redrawing, so re-resolve and retry."""
    from playwright.sync_api import Error as PlaywrightError

    for attempt in range(5):
        try:
            return locator.screenshot(path=str(path), timeout=deadline.ms(30))
        except PlaywrightError as exc:
            if "not attached" not in str(exc) or attempt == 4:
                raise
            locator.page.wait_for_timeout(300)  # let the redraw finish before re-resolving the locator
    raise AssertionError("unreachable")


def _is_blank(png: bytes) -> bool:
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.thumbnail((200, 200))
    return len(set(img.getdata())) < 8


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_viewers_render(notebook: Path, lab, lab_page, deadline):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = lab_page
    console = page.console_errors
    del console[:]
    try:
        state = _open_and_run(page, lab, notebook.name, deadline)
        assert not state["errors"], f"{notebook.name} raised:\n" + "\n\n".join(state["errors"])

        # widgets render asynchronously after the kernel goes idle: wait until none is loading
        page.wait_for_function(
            "() => !Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'))"
            ".some(n => (n.textContent || '').includes('Loading widget'))",
            timeout=deadline.ms(90), polling=500,
        )
        # viewers: outputs with a plotly plot or a drawable canvas; wait until each has drawn
        page.wait_for_function(
            "() => (" + _VIEWERS_JS + ")().every(v => !v.plotly || v.svg >= v.plotly)",
            timeout=deadline.ms(90), polling=500,
        )
        outputs = page.evaluate(_VIEWERS_JS)
        bad = [o for o in outputs if o["loading"] or o["error"]]
        assert not bad, f"widgets failed to render in {notebook.name}: {bad}\nconsole errors: {console[-10:]}"
        viewers = [o for o in outputs if o["kind"] == "plotly" or (o["kind"] == "widget" and (o["plotly"] or o["canvas"]))]
        assert viewers, (f"{notebook.name}: no live viewer (widget or plotly output with a canvas/plot) rendered; "
                         f"output kinds: {sorted({o['kind'] for o in outputs})}")
        for k, v in enumerate(viewers):
            loc = page.locator(f"[data-sicnb-idx='{v['idx']}']")
            loc.scroll_into_view_if_needed(timeout=deadline.ms(30))
            png = _screenshot(loc, ARTIFACTS / f"{notebook.stem}-viewer{k}.png", deadline)
            assert not _is_blank(png), f"{notebook.name}: viewer {k} ({v}) rendered blank"

        # one slider next to a figure: move it, the figure must change
        with_slider = sorted((v for v in viewers if v["slider"] and v["kind"] == "widget"), key=lambda v: not v["plotly"])
        if with_slider:
            v = with_slider[0]
            out = page.locator(f"[data-sicnb-idx='{v['idx']}']")
            fig = out.locator(".js-plotly-plot" if v["plotly"] else "canvas").first
            fig.scroll_into_view_if_needed(timeout=deadline.ms(30))
            sig = page.evaluate(_FIG_SIGNATURE_JS, v["idx"])
            before = _screenshot(fig, ARTIFACTS / f"{notebook.stem}-slider-before.png", deadline)
            # the kernel answers the slider asynchronously: wait until the figure's content differs.
            # First the keyboard (ArrowRight on the focused handle), then a click on the slider track.
            changed = "([idx, before]) => (" + _FIG_SIGNATURE_JS + ")(idx) !== before"
            handle = out.locator(".widget-slider .noUi-handle, .widget-slider input[type=range]").first
            handle.focus(timeout=deadline.ms(30))
            for _ in range(3):
                handle.press("ArrowRight", timeout=deadline.ms(30))
            try:
                page.wait_for_function(changed, arg=[v["idx"], sig], timeout=deadline.ms(30), polling=500)
            except PlaywrightTimeout:
                track = out.locator(".widget-slider .noUi-base, .widget-slider input[type=range]").first
                box = track.bounding_box(timeout=deadline.ms(30))
                track.click(position={"x": box["width"] * 0.8, "y": box["height"] / 2}, timeout=deadline.ms(30))
                page.wait_for_function(changed, arg=[v["idx"], sig], timeout=deadline.ms(60), polling=500)
            after = _screenshot(fig, ARTIFACTS / f"{notebook.stem}-slider-after.png", deadline)
            assert after != before, f"{notebook.name}: the figure's data changed but its pixels did not"
    except Exception:
        try:
            page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}-FAILED.png"), full_page=True, timeout=10_000)
        except Exception:  # noqa: BLE001 - the original failure matters more
            pass
        raise
    finally:
        try:  # free the kernel (2 cores) and the DOM before the next notebook
            page.evaluate(_CLOSE_JS, notebook.name)
        except Exception:  # noqa: BLE001 - the page may be gone after a failure
            pass
