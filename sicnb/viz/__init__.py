"""Figures and widgets built from tables and per-structure results. Viz never computes physics.

Convention: a function ``*_figure(...)`` returns a plotly ``go.Figure``; a widget wraps it
(``*_widget(...)``). Display everything with :func:`show` (figures, FigureWidgets, any
ipywidgets widget) or :func:`show_widget` (a widget plus the figure to use as its static copy):
the output is live in JupyterLab and leaves a PNG in saved notebooks, the ``sicnb demo`` HTML and
on GitHub. See :mod:`sicnb.viz.display`.
"""
from __future__ import annotations

from sicnb.viz.display import display_mode, set_display_mode, show, show_widget

__all__ = ["show", "show_widget", "display_mode", "set_display_mode", "show_structure", "structure_figure", "structure_widget", "structure_browser"]


def __getattr__(name: str):
    # structure viewers import nglview lazily; keep ``import sicnb.viz`` light
    if name in ("show_structure", "structure_figure", "structure_widget", "display_structure", "structure_browser"):
        from sicnb.viz import structure

        return getattr(structure, name)
    raise AttributeError(f"module 'sicnb.viz' has no attribute {name!r}")
