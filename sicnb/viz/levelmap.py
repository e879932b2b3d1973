"""Level-map / PES isosurface viewer (Maevskiy et al., Fig. 2 look) — draws, never computes physics.

>>> res = sicnb.pes.pes_scan(structure, keep_level_maps=True)
>>> fig = levelmap_figure(res.structure, res.scans[0].energy_ev, threshold_ev=0.5, kind="LM")
>>> sicnb.viz.show(fig)
>>> levelmap_widget(res.structure, res.scans[0].energy_ev)      # with a threshold slider
>>> mpe, path = sicnb.pes.percolation_path(e_sc)                # e_sc, origin = centred_supercell(energy)
>>> levelmap_figure(res.structure, level_map(e_sc), 0.5, origin_index=origin, path=path)  # + the minimax path

The isosurface is computed by marching cubes (scikit-image) on the *fractional* grid and mapped to
Cartesian space with the lattice matrix, so non-orthogonal cells are drawn right. The level map
itself comes from :func:`sicnb.pes.level_map` (passed in as ``field`` or computed by the caller).
"""
from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ParameterError

__all__ = ["levelmap_figure", "levelmap_widget", "isosurface_mesh", "SPECIES_COLORS"]

#: CPK/Jmol-like colours for common species; others get a grey
SPECIES_COLORS = {
    "Li": "#7f3fbf", "O": "#ff2020", "S": "#e0c020", "P": "#ff8000", "Cl": "#1fe01f", "F": "#90e050", "Br": "#a62929",
    "I": "#940094", "N": "#3050f8", "C": "#404040", "H": "#c0c0c0", "B": "#ffb5b5", "Ge": "#668f8f", "Si": "#f0c8a0",
    "Se": "#ffa100", "Te": "#d47a00", "Al": "#bfa6a6", "Zr": "#94e0e0", "La": "#70d4ff", "Fe": "#e06633", "Ti": "#bfc2c7",
}


def _downsample(field: np.ndarray, max_points_per_axis: int) -> tuple[np.ndarray, int]:
    step = max(1, int(np.ceil(max(field.shape) / max_points_per_axis)))
    return field[::step, ::step, ::step], step


def isosurface_mesh(field: np.ndarray, threshold: float, lattice_matrix: np.ndarray, n_cells: tuple[int, int, int] | None = None,
                    max_points_per_axis: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (Cartesian Å) and triangle indices of ``{field = threshold}``.

    ``field`` spans ``n_cells`` unit cells along each axis (default: 1 for a unit-cell grid; 2 for the
    ``(2N+1)^3`` supercell, inferred when the size is odd). Marching cubes on the fractional grid;
    ``+inf`` is clipped above the threshold. Large grids are downsampled to ``max_points_per_axis``.
    """
    from sicnb.errors import require

    marching_cubes = require("skimage.measure", extra="notebooks", pip_name="scikit-image").marching_cubes

    f = np.asarray(field, dtype=float)
    if f.ndim != 3:
        raise ParameterError(f"field must be 3-D, got shape {f.shape}")
    finite = f[np.isfinite(f)]
    if finite.size == 0 or not (finite.min() < threshold < np.nanmax(np.where(np.isfinite(f), f, threshold + 1))):
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=int)
    f = np.where(np.isfinite(f), f, threshold + 10.0)
    f, step = _downsample(f, max_points_per_axis)
    # pad with a high value so surfaces touching the box are closed
    f = np.pad(f, 1, constant_values=max(threshold + 10.0, float(finite.max())))
    verts, faces, _n, _v = marching_cubes(f, level=threshold)
    verts = (verts - 1.0) * step  # back to original grid indices
    if n_cells is None:
        n_cells = tuple(2 if s % 2 == 1 and s > 2 else 1 for s in field.shape)  # type: ignore[assignment]
    return _grid_to_cartesian(verts, field.shape, n_cells, lattice_matrix), faces


def _grid_to_cartesian(index: np.ndarray, shape, n_cells, lattice_matrix: np.ndarray) -> np.ndarray:
    """Grid indices (float, ``(n, 3)``) → Cartesian Å: a supercell grid (2N+1 points) spans 2 cells, a unit-cell grid
    (N points) spans 1."""
    shape = np.asarray(shape, dtype=float)
    per_cell = np.where(np.asarray(n_cells) == 2, (shape - 1) / 2.0, shape)
    return (np.asarray(index, dtype=float) / per_cell) @ np.asarray(lattice_matrix)


def _atoms_trace(structure: Structure, n_cells, offset_frac):
    import plotly.graph_objects as go

    traces = []
    by_species: dict[str, list] = {}
    rng = [range(int(n)) for n in n_cells]
    for site in structure:
        sym = site.specie.symbol if site.is_ordered else site.species.elements[0].symbol
        for i in rng[0]:
            for j in rng[1]:
                for k in rng[2]:
                    f = (site.frac_coords - offset_frac) % 1.0 + np.array([i, j, k])
                    by_species.setdefault(sym, []).append(structure.lattice.get_cartesian_coords(f))
    for sym, pts in by_species.items():
        p = np.array(pts)
        traces.append(go.Scatter3d(x=p[:, 0], y=p[:, 1], z=p[:, 2], mode="markers", name=sym,
                                   marker=dict(size=5 if sym != "Li" else 4, color=SPECIES_COLORS.get(sym, "#909090"),
                                               line=dict(width=0.5, color="#333"))))
    return traces


def _cell_trace(lattice_matrix: np.ndarray, n_cells):
    import plotly.graph_objects as go

    m = np.asarray(lattice_matrix) * np.asarray(n_cells)[:, None]
    corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], dtype=float)
    xs, ys, zs = [], [], []
    for a in range(8):
        for b in range(a + 1, 8):
            if np.sum(np.abs(corners[a] - corners[b])) == 1:
                p, q = corners[a] @ m, corners[b] @ m
                xs += [p[0], q[0], None]
                ys += [p[1], q[1], None]
                zs += [p[2], q[2], None]
    return go.Scatter3d(x=xs, y=ys, z=zs, mode="lines", line=dict(color="#555", width=2), name="cell", showlegend=False)


def levelmap_figure(
    structure: Structure,
    field: np.ndarray,
    threshold_ev: float = 0.5,
    kind: str = "LM",
    origin_index: tuple[int, int, int] | None = None,
    title: str | None = None,
    color: str = "#d62728",
    opacity: float = 0.55,
    max_points_per_axis: int = 64,
    show_atoms: bool = True,
    path: np.ndarray | None = None,
    path_label: str = "minimax path",
):
    """Plotly figure of the ``field = threshold_ev`` isosurface over the structure.

    ``field``: a unit-cell grid (``SiteScan.energy_ev``, shape N) or a centred ``(2N+1)^3`` supercell
    (e.g. ``level_map(centred_supercell(E)[0])``); for a supercell pass ``origin_index`` (the grid
    index of its centre, from :func:`sicnb.pes.centred_supercell`) so atoms line up, and the 2×2×2
    cell is drawn. ``kind`` labels the field ("LM" or "E"). ``path``: flat indices into ``field`` of a path to draw
    as a line (e.g. the minimax path of :func:`sicnb.pes.percolation_path` on the same supercell, whose highest
    point is the MPE saddle), labelled ``path_label``.
    """
    import plotly.graph_objects as go

    f = np.asarray(field, dtype=float)
    supercell = all(s % 2 == 1 for s in f.shape) and origin_index is not None
    n_cells = (2, 2, 2) if supercell else (1, 1, 1)
    lat = structure.lattice.matrix
    verts, faces = isosurface_mesh(f, threshold_ev, lat, n_cells=n_cells, max_points_per_axis=max_points_per_axis)
    offset = np.zeros(3)
    if supercell:
        n = (np.asarray(f.shape) - 1) // 2
        offset = np.asarray(origin_index) / n - 1.0  # fractional position of the supercell's first point
        offset = offset % 1.0
    traces = []
    if len(verts):
        traces.append(go.Mesh3d(x=verts[:, 0], y=verts[:, 1], z=verts[:, 2], i=faces[:, 0], j=faces[:, 1], k=faces[:, 2],
                                color=color, opacity=opacity, name=f"{kind} = {threshold_ev:g} eV", showlegend=True,
                                flatshading=False, lighting=dict(ambient=0.5, diffuse=0.8, specular=0.2)))
    if path is not None and len(path):
        idx = np.array(np.unravel_index(np.asarray(path, dtype=np.int64), f.shape)).T
        xyz = _grid_to_cartesian(idx, f.shape, n_cells, lat)
        traces.append(go.Scatter3d(x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="lines", name=path_label,
                                   line=dict(color="#1f3b99", width=6)))
    if show_atoms:
        traces += _atoms_trace(structure, n_cells, offset)
    traces.append(_cell_trace(lat, n_cells))
    fig = go.Figure(traces)
    fig.update_layout(
        title=title or f"{structure.composition.reduced_formula}: {kind} isosurface at {threshold_ev:g} eV",
        scene=dict(aspectmode="data", xaxis_title="x (Å)", yaxis_title="y (Å)", zaxis_title="z (Å)"),
        margin=dict(l=0, r=0, t=40, b=0), legend=dict(itemsizing="constant"),
    )
    return fig


def levelmap_widget(structure: Structure, field: np.ndarray, thresholds_ev=None, kind: str = "LM", **kwargs):
    """ipywidgets wrapper: a threshold slider (eV) redrawing :func:`levelmap_figure`."""
    import ipywidgets as widgets
    import plotly.graph_objects as go

    finite = np.asarray(field, dtype=float)
    finite = finite[np.isfinite(finite)]
    lo, hi = (0.05, 1.5) if thresholds_ev is None else (min(thresholds_ev), max(thresholds_ev))
    hi = min(hi, float(finite.max())) if finite.size else hi
    slider = widgets.FloatSlider(value=min(0.5, hi), min=lo, max=max(hi, lo + 0.05), step=0.05, description=f"{kind} (eV)",
                                 continuous_update=False)
    fig = go.FigureWidget(levelmap_figure(structure, field, slider.value, kind=kind, **kwargs))

    def _update(change):
        new = levelmap_figure(structure, field, change["new"], kind=kind, **kwargs)
        with fig.batch_update():
            fig.data = []
            for tr in new.data:
                fig.add_trace(tr)
            fig.layout.title = new.layout.title

    slider.observe(_update, names="value")
    return widgets.VBox([slider, fig])
