"""Every numbered notebook executes headless with papermill at smoke parameters."""
from __future__ import annotations

import json

import pytest

from sicnb.notebooks import list_notebooks, run_notebook

NOTEBOOKS = list_notebooks()


def _parameters_cell(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return "".join(cell["source"])
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_parameters_cell(path):
    src = _parameters_cell(path)
    assert src is not None, f"{path.name} has no cell tagged 'parameters'"
    assert "smoke" in src, f"{path.name}: the parameters cell must define `smoke`"
    nb = json.loads(path.read_text())
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code"), f"{path.name} is committed with outputs"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes_at_smoke_parameters(path, tmp_path):
    out = run_notebook(path, tmp_path, parameters={"smoke": True}, html=True)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    assert out.with_suffix(".html").stat().st_size > 10_000
