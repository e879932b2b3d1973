"""pmap's progress bar: tqdm on a terminal, a widget in a live Jupyter frontend, text lines under papermill."""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

@dataclass
class _Progress:
    """Progress bar that reads well everywhere.

    * terminal / plain Python: tqdm on stderr;
    * Jupyter with a live frontend (JupyterLab): a tqdm widget, whose output is replaced by the
      final text line when done, so a saved notebook shows "100%|...| N/N" and not a stale widget;
    * a kernel without a widget frontend (papermill, nbclient): plain text lines on stderr, at most
      one every ``text_interval`` seconds plus the final one (no carriage-return spam in outputs).
    """

    total: int
    desc: str
    enabled: bool
    text_interval: float = 30.0

    def __post_init__(self):
        self.bar = None
        self._handle = None
        self._mode = None
        self._last_line = 0.0
        if not (self.enabled and self.total):
            return
        self._mode = self._choose_mode()
        if self._mode == "widget":
            try:
                from IPython.display import display
                from tqdm.notebook import tqdm as notebook_tqdm

                self.bar = notebook_tqdm(total=self.total, desc=self.desc, display=False)
                self._handle = display(self._bundle(), raw=True, display_id=True)
                return
            except Exception:  # noqa: BLE001 - no ipywidgets: fall back to text lines
                self._mode = "lines"
        if self._mode == "lines":
            from tqdm.std import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=open(os.devnull, "w"), mininterval=float("inf"), ascii=False)
            self._last_line = time.monotonic()
        else:
            from tqdm.std import tqdm

            self.bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr, dynamic_ncols=True)

    @staticmethod
    def _choose_mode() -> str:
        if "ipykernel" not in sys.modules:
            return "terminal"
        from sicnb._frontend import live_frontend

        return "widget" if live_frontend() else "lines"

    def _text(self) -> str:
        return self.bar.format_meter(**self.bar.format_dict) if self.bar is not None else ""

    def _bundle(self) -> dict:
        view = self.bar.container._repr_mimebundle_()
        if isinstance(view, tuple):
            view = view[0]
        return {k: v for k, v in view.items() if k != "text/plain"} | {"text/plain": self._text()}

    def update(self, n: int = 1):
        if self.bar is None:
            return
        self.bar.update(n)
        if self._mode == "lines" and time.monotonic() - self._last_line >= self.text_interval:
            print(self._text(), file=sys.stderr, flush=True)
            self._last_line = time.monotonic()

    def close(self):
        if self.bar is None:
            return
        self.bar.close()
        if self._mode == "widget" and self._handle is not None:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:  # noqa: BLE001 - display is cosmetic
                pass
        elif self._mode == "lines":
            print(self._text(), file=sys.stderr, flush=True)
            self.bar.fp.close()
        self.bar = None
