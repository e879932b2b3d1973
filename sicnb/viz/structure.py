"""Crystal-structure viewer: an nglview widget live, a plotly 3D figure as the static copy.

Disorder rule for display only: nglview draws one atom per site, so a partially occupied site is
drawn as its majority species (ties: alphabetical). The plotly figure keeps the full occupancy in
each atom's hover text ("Li:0.69 vac:0.31") and draws partially occupied sites as diamonds.
Nothing here changes the structure that computations use.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from pymatgen.core import Structure

__all__ = ["display_structure", "structure_figure", "structure_widget", "show_structure", "structure_browser"]

_FALLBACK_COLOR = (200, 200, 200)


def _as_structure(obj) -> tuple[Structure, str]:
    """A ``Structure`` and a name from a Structure or a ``sicnb.data.Record``."""
    if isinstance(obj, Structure):
        return obj, obj.composition.reduced_formula
    structure = getattr(obj, "structure", None)
    if isinstance(structure, Structure):
        return structure, f"{getattr(obj, 'id', '')} {structure.composition.reduced_formula}".strip()
    raise TypeError(f"expected a pymatgen Structure or a Record with a structure, got {type(obj).__name__}")


def _occupancy_text(site) -> str:
    items = sorted(site.species.items(), key=lambda kv: -float(kv[1]))
    text = " ".join(f"{sp}:{float(occ):.2f}" for sp, occ in items)
    vac = 1.0 - float(sum(site.species.values()))
    return text + (f" vac:{vac:.2f}" if vac > 1e-3 else "")


def display_structure(structure: Structure) -> Structure:
    """An ordered copy for drawing: each site becomes its majority element (site property ``occupancy`` keeps the text)."""
    species, coords, occ = [], [], []
    for site in structure:
        best = sorted(site.species.items(), key=lambda kv: (-float(kv[1]), str(kv[0])))[0][0]
        species.append(getattr(best, "symbol", str(best)))
        coords.append(site.frac_coords)
        occ.append(_occupancy_text(site))
    return Structure(structure.lattice, species, coords, site_properties={"occupancy": occ})


def _colors() -> dict[str, tuple[int, int, int]]:
    from pymatgen.vis.structure_vtk import EL_COLORS

    return {k: tuple(v) for k, v in EL_COLORS["Jmol"].items()}


def _radius(symbol: str) -> float:
    from pymatgen.core import Element

    try:
        r = Element(symbol).atomic_radius
        return float(r) if r is not None else 1.0
    except ValueError:
        return 1.0


def _cell_edges(matrix: np.ndarray) -> tuple[list, list, list]:
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=float)
    xyz = corners @ matrix
    xs: list = []
    ys: list = []
    zs: list = []
    for a in range(8):
        for b in range(a + 1, 8):
            if np.abs(corners[a] - corners[b]).sum() == 1:
                for arr, dim in ((xs, 0), (ys, 1), (zs, 2)):
                    arr.extend([xyz[a, dim], xyz[b, dim], None])
    return xs, ys, zs


def structure_figure(structure, supercell: Sequence[int] = (1, 1, 1), title: str | None = None, height: int = 520):
    """A plotly 3D figure of ``structure`` (atoms by element, Jmol colours, unit cell; axes in Å)."""
    import plotly.graph_objects as go

    struct, name = _as_structure(structure)
    shown = display_structure(struct)
    if tuple(supercell) != (1, 1, 1):
        shown = shown * tuple(int(n) for n in supercell)
    colors = _colors()
    partial = np.array([not site.is_ordered or abs(float(sum(site.species.values())) - 1.0) > 1e-6 for site in struct])
    if tuple(supercell) != (1, 1, 1):
        partial = np.tile(partial, int(np.prod(supercell)))
    fig = go.Figure()
    xs, ys, zs = _cell_edges(shown.lattice.matrix)
    fig.add_trace(go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color="#444", width=3), name="unit cell", hoverinfo="skip"))
    symbols = [site.specie.symbol for site in shown]
    cart = shown.cart_coords
    occ = shown.site_properties["occupancy"]
    for el in sorted(set(symbols), key=lambda s: (s != "Li", s)):
        rgb = colors.get(el, _FALLBACK_COLOR)
        for part in (False, True):
            idx = [i for i, s in enumerate(symbols) if s == el and bool(partial[i]) == part]
            if not idx:
                continue
            hover = [f"{el} #{i}<br>{occ[i]}<br>frac ({shown[i].frac_coords[0]:.3f}, {shown[i].frac_coords[1]:.3f}, {shown[i].frac_coords[2]:.3f})" for i in idx]
            fig.add_trace(go.Scatter3d(
                x=cart[idx, 0], y=cart[idx, 1], z=cart[idx, 2], mode="markers",
                name=f"{el} (partial occupancy)" if part else el,
                marker=dict(size=(4 if part else 6) + 10 * _radius(el), color=f"rgb{rgb}", symbol="diamond" if part else "circle",
                            line=dict(color="#333", width=1)),
                text=hover, hoverinfo="text",
            ))
    lat = struct.lattice
    fig.update_layout(
        title=dict(text=title or f"{name}<br><sup>{len(struct)} sites; a={lat.a:.2f} Å, b={lat.b:.2f} Å, c={lat.c:.2f} Å"
                   + ("; ◆ = partially occupied site (majority species)" if partial.any() else "") + "</sup>", font=dict(size=15)),
        scene=dict(xaxis_title="x (Å)", yaxis_title="y (Å)", zaxis_title="z (Å)", aspectmode="data",
                   camera=dict(eye=dict(x=1.7, y=1.7, z=1.3))),
        height=height, margin=dict(l=0, r=0, t=50, b=0), legend=dict(title="element"),
    )
    return fig


def structure_widget(structure, supercell: Sequence[int] = (1, 1, 1), representation: str = "ball+stick", **kwargs: Any):
    """An nglview widget of ``structure`` (majority species per site, unit cell drawn, zoomed to fit)."""
    import nglview
    from pymatgen.io.ase import AseAtomsAdaptor

    struct, _ = _as_structure(structure)
    shown = display_structure(struct)
    shown.remove_site_property("occupancy")
    if tuple(supercell) != (1, 1, 1):
        shown = shown * tuple(int(n) for n in supercell)
    view = nglview.show_ase(AseAtomsAdaptor().get_atoms(shown), default_representation=False, **kwargs)
    view.add_representation(representation, selection="all")
    view.add_unitcell()
    view.layout.height = "420px"
    # queued by nglview until the browser has loaded the structure: fit the canvas, then zoom to it
    view.handle_resize()
    view.center()
    return view


def show_structure(structure, supercell: Sequence[int] = (1, 1, 1), title: str | None = None):
    """Display ``structure``: live nglview in JupyterLab, the plotly 3D figure as PNG when saved. Returns the widget."""
    from sicnb.viz.display import show_widget

    view = structure_widget(structure, supercell=supercell)
    fig = structure_figure(structure, supercell=supercell, title=title)
    _, name = _as_structure(structure)
    show_widget(view, static_fig=fig, alt=f"<structure viewer: {name}>")
    return view


def _atoms_trace_data(structure: Structure, name: str) -> dict:
    """One Scatter3d worth of atoms (per-point Jmol colours and sizes) for in-place updates."""
    shown = display_structure(structure)
    colors = _colors()
    cart = shown.cart_coords
    symbols = [site.specie.symbol for site in shown]
    rgb = [colors.get(el, _FALLBACK_COLOR) for el in symbols]
    return dict(
        x=cart[:, 0].tolist(), y=cart[:, 1].tolist(), z=cart[:, 2].tolist(),
        marker=dict(size=[6 + 10 * _radius(el) for el in symbols], color=[f"rgb{c}" for c in rgb], line=dict(color="#333", width=1)),
        text=[f"{el} #{i}<br>{occ}" for i, (el, occ) in enumerate(zip(symbols, shown.site_properties["occupancy"]))],
    )


def structure_browser(structures, start: int = 0, height: int = 480):
    """Flip through structures with a slider: ``VBox([HBox([IntSlider, Label]), FigureWidget])``.

    ``structures``: a ``Dataset``, a list of records/structures, or ``{id: Structure}``. The figure
    has two fixed traces (unit cell, atoms coloured by element) that the slider updates in place.
    """
    import ipywidgets as widgets
    import plotly.graph_objects as go

    if isinstance(structures, dict):
        items = list(structures.items())
    else:
        items = []
        for i, obj in enumerate(structures):
            s, _ = _as_structure(obj)
            items.append((str(getattr(obj, "id", i)), s))
    if not items:
        raise ValueError("structure_browser needs at least one structure")
    start = min(max(int(start), 0), len(items) - 1)

    def title(i: int) -> str:
        rid, s = items[i]
        lat = s.lattice
        return f"{rid}: {s.composition.reduced_formula}<br><sup>{len(s)} sites; a={lat.a:.2f} Å, b={lat.b:.2f} Å, c={lat.c:.2f} Å; colours: Jmol</sup>"

    rid0, s0 = items[start]
    xs, ys, zs = _cell_edges(s0.lattice.matrix)
    fig = go.FigureWidget([
        go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color="#444", width=3), name="unit cell", hoverinfo="skip"),
        go.Scatter3d(mode="markers", name="atoms", hoverinfo="text", **_atoms_trace_data(s0, rid0)),
    ])
    fig.update_layout(
        title=dict(text=title(start), font=dict(size=15)), height=height, showlegend=False, margin=dict(l=0, r=0, t=60, b=0),
        scene=dict(xaxis_title="x (Å)", yaxis_title="y (Å)", zaxis_title="z (Å)", aspectmode="data",
                   camera=dict(eye=dict(x=1.7, y=1.7, z=1.3))),
    )
    slider = widgets.IntSlider(value=start, min=0, max=len(items) - 1, step=1, description="structure", continuous_update=False,
                               layout=widgets.Layout(width="60%"))
    label = widgets.Label(value=f"{rid0}  {s0.composition.reduced_formula}")

    def _update(change) -> None:
        rid, s = items[change["new"]]
        cx, cy, cz = _cell_edges(s.lattice.matrix)
        atoms = _atoms_trace_data(s, rid)
        with fig.batch_update():
            fig.data[0].update(x=cx, y=cy, z=cz)
            fig.data[1].update(**atoms)
            fig.layout.title.text = title(change["new"])
        label.value = f"{rid}  {s.composition.reduced_formula}"

    slider.observe(_update, names="value")
    box = widgets.VBox([widgets.HBox([slider, label]), fig])
    box.figure = fig  # type: ignore[attr-defined]
    box.slider = slider  # type: ignore[attr-defined]
    return box
