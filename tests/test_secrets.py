"""Secrets stay secret; user files are never unpickled; CLI arguments never reach a shell.

The Materials Project path runs for real (mp-api's ``MPRester``) against a stub HTTP server on
127.0.0.1 (mp-api reads ``MP_API_ENDPOINT``) with a fake key, for success and failure answers,
through the Python API and the ``sicnb data`` CLI.
"""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import traceback
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sicnb.errors import DataUnavailableError

pytest.importorskip("mp_api.client")

FAKE_KEY = "sicnbFAKEkey0123456789abcdefXYZ4"  # mp-api accepts 32-character keys only
REPO = Path(__file__).resolve().parents[1]


def _docs() -> list[dict]:
    from sicnb.data import embedded

    recs = [r for r in embedded() if len(r.structure) <= 12][:3]
    return [{"material_id": f"mp-{100 + i}", "structure": r.structure.as_dict(), "energy_above_hull": 0.0,
             "formation_energy_per_atom": -1.5 - i, "band_gap": 4.0 + i} for i, r in enumerate(recs)]


class Stub:
    """A local Materials Project look-alike; ``mode`` = ok | unauthorized | error (both echo the key back)."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.mode = "ok"
        self.docs = _docs()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                key = self.headers.get("X-API-KEY", "")
                if self.path.startswith("/heartbeat"):
                    code, body = 200, {"db_version": "2025_09_25", "access_controlled_batch_ids": [], "version": "0.87.3"}
                elif stub.mode == "unauthorized":
                    code, body = 401, {"detail": f"Invalid API key {key}"}
                elif stub.mode == "error":
                    code, body = 500, {"detail": f"internal error while serving key={key}"}
                else:
                    code, body = 200, {"data": stub.docs, "meta": {"total_doc": len(stub.docs)}}
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(monkeypatch):
    s = Stub()
    monkeypatch.setenv("MP_API_ENDPOINT", s.url)
    monkeypatch.setenv("MP_API_KEY", FAKE_KEY)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield s
    s.close()


def _assert_no_key(*texts: str) -> None:
    for t in texts:
        assert FAKE_KEY not in t
        assert FAKE_KEY[:12] not in t  # not even a prefix


def _full_text(exc: BaseException) -> str:
    """Everything an exception can show: formatted traceback, and every chained exception's repr."""
    parts = ["".join(traceback.format_exception(exc))]
    seen, e = set(), exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts.append(repr(e))
        e = e.__cause__ or e.__context__
    return "\n".join(parts)


def test_materials_project_api_keeps_key_secret(stub, caplog):
    from sicnb.data import materials_project

    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = materials_project(max_structures=3)
    assert len(ds) == 3 and ds.ids == ["mp-100", "mp-101", "mp-102"]
    assert ds["mp-101"].labels["band_gap"] == 5.0
    # the request really went to the stub, with the key in the header only
    data_requests = [(p, h) for p, h in stub.requests if p.startswith("/materials/summary")]
    assert data_requests and all(h.get("x-api-key") == FAKE_KEY for _, h in data_requests)
    assert all(FAKE_KEY not in p for p, _ in stub.requests)
    _assert_no_key(repr(ds), ds.table().to_csv(), json.dumps([r.provenance for r in ds]), caplog.text,
                   "\n".join(str(w.message) for w in caught))


@pytest.mark.parametrize("mode", ["unauthorized", "error"])
def test_failures_do_not_echo_the_key(stub, caplog, mode):
    from sicnb.data import materials_project, mp_entries

    stub.mode = mode
    caplog.set_level(logging.DEBUG)
    # mp_entries: mp-api 0.46 reads phase-diagram data from the MP open-data bucket, not the API
    # server, so here it fails offline; its error must not carry the key either
    for call, via_stub in ((lambda: materials_project(max_structures=3), True), (lambda: mp_entries("Li-O"), False)):
        before = len(stub.requests)
        with pytest.raises(DataUnavailableError) as info:
            call()
        assert "failed" in str(info.value)
        _assert_no_key(_full_text(info.value), caplog.text)
        if via_stub:
            new = [(p, h) for p, h in stub.requests[before:] if not p.startswith("/heartbeat")]
            assert new and all(h.get("x-api-key") == FAKE_KEY for _, h in new), stub.requests[before:]


def test_unreachable_server_does_not_echo_the_key(monkeypatch):
    import socket

    from sicnb.data import materials_project

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MP_API_ENDPOINT", f"http://127.0.0.1:{port}/")
    with pytest.raises(DataUnavailableError) as info:
        materials_project(api_key=FAKE_KEY)
    _assert_no_key(_full_text(info.value))


def test_cli_keeps_key_secret(stub, tmp_path, capsys):
    out = tmp_path / "mp.csv"
    env = dict(os.environ, PYTHONWARNINGS="always", SICNB_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "sicnb.cli", "data", "--input", "materials_project", "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = out.read_text()
    assert "mp-100" in table
    _assert_no_key(proc.stdout, proc.stderr, table)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            _assert_no_key(f.read_bytes().decode(errors="replace"))
    from sicnb.cli import main

    stub.mode = "unauthorized"  # the failure path in-process (same code, no second interpreter start-up)
    assert main(["data", "--input", "materials_project", "--out", str(tmp_path / "fail.csv")]) == 2
    captured = capsys.readouterr()
    assert "Materials Project query failed" in captured.err
    _assert_no_key(captured.out, captured.err)


def test_cli_arguments_never_reach_a_shell(tmp_path, monkeypatch, capsys):
    from sicnb.cli import main

    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "pwned"
    hostile = [f"x; touch {canary}", f"$(touch {canary})", f"`touch {canary}`", f"a|touch {canary}"]
    for arg in hostile:
        assert main(["data", "--input", arg, "--out", str(tmp_path / "o.csv")]) == 2
        assert "neither an existing file" in capsys.readouterr().err
    (tmp_path / "Li2O.cif").write_text("data_x\n")
    assert main(["data", "--input", str(tmp_path), "--out", f"$(touch {canary}).csv"]) == 0
    assert (tmp_path / f"$(touch {canary}).csv").exists() and not canary.exists()


def test_no_unsafe_calls_in_the_package():
    """No shell, no unpickling of anything read from disk (the sandbox pipe to our own child is the one pickle);
    ``torch.load`` only with ``weights_only=True`` (matgl's own loader reads the trusted local model folders)."""
    pattern = re.compile(r"shell\s*=\s*True|os\.system\(|os\.popen\(|subprocess\.getoutput|pickle\.loads?\(|read_pickle|"
                         r"allow_pickle\s*=\s*True|joblib\.load|dill\.load|yaml\.load\(|yaml\.unsafe_load|"
                         r"torch\.load\((?!.*weights_only\s*=\s*True)")
    allowed = {("sicnb/parallel/sandbox.py", "pickle.loads(_read_exact(0, n, None))")}
    hits = []
    for f in sorted((REPO / "sicnb").rglob("*.py")):
        rel = f.relative_to(REPO).as_posix()
        for line in f.read_text().splitlines():
            if pattern.search(line) and not any(rel == a and s in line for a, s in allowed):
                hits.append(f"{rel}: {line.strip()}")
    assert not hits, "unsafe calls:\n" + "\n".join(hits)


def test_user_json_and_cache_files_are_never_unpickled(tmp_path):
    import pickle

    from sicnb.errors import InputError
    from sicnb.validate import read_validated

    class Boom:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    for name in ("evil.json", "evil.cif", "POSCAR_evil"):
        (tmp_path / name).write_bytes(pickle.dumps(Boom()))
        with pytest.raises(InputError, match=name):
            read_validated(tmp_path / name)
    assert not (tmp_path / "pwned").exists()
