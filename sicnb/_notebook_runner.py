"""The child process of :func:`sicnb.notebooks.run_notebook`: papermill's command line, with one
upstream hang worked around.

nbclient waits for each cell's ``execute_reply`` with ``shell_channel.get_msg(timeout=None)``,
i.e. one ``zmq.asyncio`` poll without a time limit. When a cell creates ipywidgets, the reply can
arrive without waking that poll (jupyter/nbclient#312, proposed fix jupyter/nbclient#311): the
kernel is idle, papermill waits for ever. Seen here on notebook 01 (barcode widget) in three of
four headless runs. In this process only, ``get_msg`` polls in slices of at most one second, so a
message that is already there is always picked up; timeouts keep their meaning.
"""
from __future__ import annotations

import time
from queue import Empty

POLL_SLICE_S = 1.0


def _poll_in_slices() -> None:
    from jupyter_client.channels import AsyncZMQSocketChannel

    async def get_msg(self, timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_S if deadline is None else max(0.0, min(POLL_SLICE_S, deadline - time.monotonic()))
            if await self.socket.poll(int(left * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty

    AsyncZMQSocketChannel.get_msg = get_msg


def main() -> None:
    _poll_in_slices()
    from papermill.cli import papermill

    papermill(prog_name="papermill")


if __name__ == "__main__":
    main()
