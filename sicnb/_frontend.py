"""Whether a live Jupyter frontend is attached: read by the progress bars (:mod:`sicnb.parallel.progress`), the figure
display (:mod:`sicnb.viz.display`) and the notebook runner (:mod:`sicnb.notebooks`, which re-exports it). It lives
outside those subpackages so that none of them imports another for it (no import cycle notebooks <-> viz)."""
from __future__ import annotations

import os

__all__ = ["live_frontend"]


def live_frontend() -> bool:
    """True when this process is a Jupyter kernel with a widget-capable frontend attached.

    JupyterLab/Notebook 7 open the ``jupyter.widget.control`` comm when they connect, and kernels
    started by a Jupyter server get ``JPY_SESSION_NAME``; papermill/nbclient do neither, so there
    widget views would be lost and static output is used. ``SICNB_HEADLESS=1`` forces False.
    """
    if os.environ.get("SICNB_HEADLESS", "").strip().lower() in ("1", "true", "yes"):
        return False
    import sys

    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover
        return False
    if ip is None or not hasattr(ip, "kernel"):
        return False
    widget_mod = sys.modules.get("ipywidgets.widgets.widget")
    if widget_mod is not None and getattr(widget_mod.Widget, "_control_comm", None) is not None:
        return True
    return bool(os.environ.get("JPY_SESSION_NAME"))
