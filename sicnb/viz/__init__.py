"""Figures and widgets built from tables and per-structure results. Viz never computes physics.

Convention: a function ``*_figure(...)`` returns a plotly ``go.Figure``; a widget wraps it
(``*_widget(...)``); :func:`show` displays a figure live in Jupyter and leaves a static copy in
saved notebooks.
"""
from __future__ import annotations

__all__ = ["show"]


def show(fig, static: bool = True):
    """Display a plotly figure (interactive in JupyterLab; self-contained HTML in saved notebooks)."""
    from IPython.display import display

    display(fig)
    return None
