"""sicnb.viz display layer: every figure/widget output carries a kernel-free static view; structure viewer."""
from __future__ import annotations

import base64
import io
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("plotly")
pytest.importorskip("ipywidgets")

import plotly.graph_objects as go  # noqa: E402

from sicnb.viz import display as vd  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
HAVE_CHROME = any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"))


@pytest.fixture(autouse=True)
def _fresh_display_state(monkeypatch):
    monkeypatch.setitem(vd._png_state, "failed", None)
    monkeypatch.delenv("SICNB_DISPLAY", raising=False)
    monkeypatch.delenv("SICNB_STATIC_PNG", raising=False)
    vd.set_display_mode(None)
    yield
    vd.set_display_mode(None)


@pytest.fixture
def shell():
    """An IPython shell whose display() calls are captured."""
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython()
    yield ip


def _captured(fn) -> list[dict]:
    from IPython.utils.capture import capture_output

    with capture_output() as cap:
        fn()
    return [o.data for o in cap.outputs]


def _fig(title="test figure") -> go.Figure:
    fig = go.Figure(go.Scatter(x=[0, 1, 2], y=[2.0, 0.5, 1.5], mode="lines+markers"))
    fig.update_layout(title=title, width=420, height=300, xaxis_title="d (Å)", yaxis_title="count")
    return fig


def _png_size(b64: str) -> tuple[int, int]:
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(b64))).size


# --------------------------------------------------------------------------------------------
def test_plain_python_is_not_a_live_frontend(monkeypatch):
    from sicnb.notebooks import live_frontend

    assert live_frontend() is False  # pytest is not a kernel
    assert vd.display_mode() == "static"
    monkeypatch.setenv("SICNB_DISPLAY", "live")
    assert vd.display_mode() == "live"
    vd.set_display_mode("static")
    assert vd.display_mode() == "static"
    with pytest.raises(ValueError):
        vd.set_display_mode("sometimes")


@pytest.mark.skipif(not HAVE_CHROME, reason="no Chrome/Chromium for kaleido")
def test_figure_bundle_has_plotly_view_and_png_of_layout_size():
    bundle = vd.figure_bundle(_fig())
    assert bundle[PLOTLY_MIME]["layout"]["title"]["text"] == "test figure"
    assert _png_size(bundle["image/png"]) == (420, 300)
    assert "test figure" in bundle["text/plain"]


def test_without_png_the_static_view_is_plotly_html(monkeypatch):
    monkeypatch.setenv("SICNB_STATIC_PNG", "0")
    bundle = vd.static_bundle(_fig())
    assert "image/png" not in bundle
    assert "plotly" in bundle["text/html"] and "test figure" in bundle["text/html"]


@pytest.mark.skipif(not HAVE_CHROME, reason="no Chrome/Chromium for kaleido")
def test_static_mode_show_leaves_no_widget_views(shell):
    vd.set_display_mode("static")
    fw = go.FigureWidget(_fig("widget fig"))
    outs = _captured(lambda: (vd.show(_fig()), vd.show(fw)))
    assert len(outs) == 2
    for data in outs:
        assert WIDGET_MIME not in data
        assert "image/png" in data and PLOTLY_MIME in data


@pytest.mark.skipif(not HAVE_CHROME, reason="no Chrome/Chromium for kaleido")
def test_live_widget_bundle_pairs_the_widget_with_its_figure_png(shell):
    import ipywidgets as w

    vd.set_display_mode("live")
    fw = go.FigureWidget(_fig("inside a box"))
    box = w.VBox([w.IntSlider(value=1, min=0, max=3), fw])
    outs = _captured(lambda: vd.show(box))
    assert len(outs) == 1
    data = outs[0]
    assert data[WIDGET_MIME]["model_id"] == box.model_id
    assert _png_size(data["image/png"]) == (420, 300)  # found the FigureWidget inside the box
    assert vd.find_figures(box) == [fw]


@pytest.mark.skipif(not HAVE_CHROME, reason="no Chrome/Chromium for kaleido")
def test_widget_with_several_figures_stacks_their_images(shell):
    import ipywidgets as w

    vd.set_display_mode("static")
    box = w.HBox([go.FigureWidget(_fig("a")), go.FigureWidget(_fig("b"))])
    (data,) = _captured(lambda: vd.show_widget(box))
    assert data["text/html"].count("data:image/png;base64,") == 2


def test_widget_without_any_figure_gets_a_text_fallback(shell):
    import ipywidgets as w

    vd.set_display_mode("live")
    slider = w.FloatSlider()
    (data,) = _captured(lambda: vd.show_widget(slider))
    assert data[WIDGET_MIME]["model_id"] == slider.model_id
    assert "run the notebook" in data["text/plain"]
    vd.set_display_mode("static")
    (data,) = _captured(lambda: vd.show_widget(slider))
    assert WIDGET_MIME not in data


def test_show_rejects_nothing_it_does_not_know(shell):
    outs = _captured(lambda: vd.show("just text"))
    assert outs and outs[0]["text/plain"] == "'just text'"


# --------------------------------------------------------------------------------------------
# structure viewer
# --------------------------------------------------------------------------------------------
def test_display_structure_majority_rule(lgps):
    from sicnb.viz.structure import display_structure

    shown = display_structure(lgps)
    assert shown.is_ordered and len(shown) == len(lgps)
    for site, orig in zip(shown, lgps):
        best = max(orig.species.items(), key=lambda kv: kv[1])[0]
        assert site.specie.symbol == best.symbol
    assert lgps.is_ordered is False  # input untouched


def test_structure_figure_draws_every_site_and_the_cell(lgps):
    from sicnb.viz.structure import structure_figure

    fig = structure_figure(lgps)
    atoms = [t for t in fig.data if t.name != "unit cell"]
    assert sum(len(t.x) for t in atoms) == len(lgps)
    assert any("partial" in t.name for t in atoms)  # LGPS has partially occupied Li and Ge/P sites
    cell = next(t for t in fig.data if t.name == "unit cell")
    assert sum(v is not None for v in cell.x) == 24  # 12 edges, 2 points each
    assert fig.layout.scene.xaxis.title.text == "x (Å)"
    # cartesian positions are the structure's
    li = next(t for t in atoms if t.name == "Li")
    assert np.allclose(np.c_[li.x, li.y, li.z].min(axis=0) >= lgps.cart_coords.min(axis=0) - 1e-6, True)


def test_structure_figure_supercell(li2o):
    from sicnb.viz.structure import structure_figure

    fig = structure_figure(li2o, supercell=(2, 1, 1))
    assert sum(len(t.x) for t in fig.data if t.name != "unit cell") == 2 * len(li2o)


def test_structure_widget_is_an_nglview_view(lgps):
    nglview = pytest.importorskip("nglview")
    from sicnb.viz.structure import structure_widget

    view = structure_widget(lgps)
    assert isinstance(view, nglview.NGLWidget)
    assert len(view._ngl_component_ids) == 1
    # queued for the browser: load the structure, draw it and the cell, then zoom to fit
    queued = [c._method_name for c in view._callbacks_before_loaded]
    assert queued[0] == "loadFile" and queued.count("addRepresentation") == 2 and queued[-1] == "autoView"


def test_structure_browser_slider_swaps_the_figure(embedded_small):
    from sicnb.viz.structure import structure_browser

    box = structure_browser(embedded_small[:4])
    first = box.figure.layout.title.text
    assert embedded_small[0].id in first
    box.slider.value = 3
    assert embedded_small[3].id in box.figure.layout.title.text
    assert len(box.figure.data) == 2  # updated in place, never re-created
    assert len(box.figure.data[1].x) == len(embedded_small[3].structure)
    assert np.allclose(np.c_[box.figure.data[1].x, box.figure.data[1].y, box.figure.data[1].z], embedded_small[3].structure.cart_coords)


# --------------------------------------------------------------------------------------------
# progress bars: readable text where no widget frontend is attached
# --------------------------------------------------------------------------------------------
def test_progress_text_lines_without_carriage_returns(monkeypatch, capsys):
    from sicnb.parallel import _Progress

    monkeypatch.setattr(_Progress, "_choose_mode", staticmethod(lambda: "lines"))
    bar = _Progress(5, "demo", True, text_interval=1e9)
    for _ in range(5):
        bar.update()
    bar.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "demo" in lines[0] and "100%" in lines[0] and "5/5" in lines[0]


def test_progress_widget_bundle_carries_final_text(monkeypatch, shell):
    from sicnb.parallel import _Progress

    monkeypatch.setattr(_Progress, "_choose_mode", staticmethod(lambda: "widget"))
    outs = _captured(lambda: _run_bar(_Progress))
    assert outs and WIDGET_MIME in outs[0]
    assert "0/3" in outs[0]["text/plain"]


def _run_bar(cls):
    bar = cls(3, "w", True)
    bar.update(3)
    final = bar._bundle()
    assert "3/3" in final["text/plain"] and "100%" in final["text/plain"]
    bar.close()


# --------------------------------------------------------------------------------------------
# saved notebooks: papermill output and the HTML keep static figures
# --------------------------------------------------------------------------------------------
def test_to_html_prefers_static_images_and_prunes_unshown_widget_state(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from sicnb.notebooks import prune_widget_state, to_html

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    nb = new_notebook()
    cell = new_code_cell("show(w)")
    cell.outputs = [new_output("display_data", data={WIDGET_MIME: {"model_id": "aa", "version_major": 2, "version_minor": 0},
                                                      "image/png": png, "text/plain": "<widget>"})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"version_major": 2, "version_minor": 0, "state": {
        "aa": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_bb"]}},
        "bb": {"model_name": "IntSliderModel", "state": {}},
        "cc": {"model_name": "AnyModel", "state": {"_esm": "x" * 1000}},
    }}}
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    assert prune_widget_state(path) == 1
    kept = nbformat.read(path, as_version=4).metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert set(kept) == {"aa", "bb"}
    html = to_html(path).read_text()
    assert f"data:image/png;base64,{png}" in html


@pytest.mark.notebook
@pytest.mark.skipif(not HAVE_CHROME, reason="no Chrome/Chromium for kaleido")
def test_papermill_notebook_keeps_static_figures(tmp_path):
    pytest.importorskip("papermill")
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from sicnb.notebooks import run_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_code_cell("smoke = False", metadata={"tags": ["parameters"]}),
        new_code_cell(
            "import plotly.graph_objects as go, ipywidgets as w\n"
            "from sicnb.viz import show\n"
            "fig = go.Figure(go.Bar(x=['a', 'b'], y=[1, 3]))\n"
            "show(fig)\n"
            "show(w.VBox([w.IntSlider(), go.FigureWidget(fig)]))"
        ),
    ]
    src = tmp_path / "src" / "99_check.ipynb"
    src.parent.mkdir()
    nbformat.write(nb, src)
    out = run_notebook(src, tmp_path / "out", parameters={"smoke": True})
    done = nbformat.read(out, as_version=4)
    outputs = [o for c in done.cells for o in c.get("outputs", []) if o.output_type == "display_data"]
    assert len(outputs) == 2
    for o in outputs:
        assert "image/png" in o.data and WIDGET_MIME not in o.data
    # no 5 MB FigureWidget bundle left in the saved file
    assert out.stat().st_size < 400_000
    body = out.with_suffix(".html").read_text().split("<main", 1)[1]
    assert body.count("data:image/png;base64,") == 2
