"""pyproject.toml, environment.yml and binder/ describe the same environment, and binder/ is a
configuration repo2docker accepts (its build plan is rendered without building the image)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
#: the packages whose versions must agree exactly for widgets to render (see tests/test_browser.py)
WIDGET_STACK = ("jupyterlab", "ipywidgets", "jupyterlab-widgets", "nglview", "plotly", "anywidget", "kaleido")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _extra(name: str) -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in _pyproject()["project"]["optional-dependencies"][name]]
    return {_norm(r.name): r for r in reqs}


def _conda_env(path: Path) -> tuple[list, dict[str, Requirement], list[str]]:
    """(conda dependencies, pip requirements by name, pip option/editable lines) of an environment file."""
    env = yaml.safe_load(path.read_text())
    conda, pip_lines = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines.extend(dep.get("pip", []))
        else:
            conda.append(dep)
    reqs, other = {}, []
    for line in pip_lines:
        if line.startswith("-"):
            other.append(line)
        else:
            r = Requirement(line)
            reqs[_norm(r.name)] = r
    return conda, reqs, other


ENV_FILES = {"environment.yml": REPO / "environment.yml", "binder/environment.yml": BINDER / "environment.yml"}


def test_widget_stack_pinned_exactly_in_pyproject():
    nb = _extra("notebooks")
    for name in WIDGET_STACK:
        assert name in nb, f"notebooks extra lacks {name}"
        spec = list(nb[name].specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"{name} must be pinned with == (got {nb[name]})"
    assert str(nb["nglview"].specifier) != "==4.0.1", "nglview 4.0.1 ships a lab extension that does not match its Python side"


@pytest.mark.parametrize("label", list(ENV_FILES))
def test_environment_files_match_pyproject(label):
    conda, pip, options = _conda_env(ENV_FILES[label])
    nb = _extra("notebooks")
    for name in WIDGET_STACK + ("jupyter-server-proxy",):
        assert name in pip, f"{label} lacks {name}"
        assert pip[name].specifier == nb[name].specifier, f"{label}: {pip[name]} differs from pyproject's {nb[name]}"
    # same CPU torch as the README's set-up command, from the CPU index (no CUDA download)
    readme = (REPO / "README.md").read_text()
    torch_pin = re.search(r"torch==([0-9][0-9.]*)", readme)
    assert torch_pin, "README set-up command pins torch"
    assert str(pip["torch"].specifier) == f"=={torch_pin.group(1)}", f"{label} torch pin differs from README"
    assert any("download.pytorch.org/whl/cpu" in o for o in options), f"{label} must take torch from the CPU index"
    # a Python the package supports
    py = [d for d in conda if str(d).startswith("python")]
    assert py, f"{label} names a Python version"
    version = str(py[0]).split("=", 1)[1]
    requires = _pyproject()["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    assert version in SpecifierSet(requires), f"{label}: python {version} does not satisfy requires-python {requires}"


def test_top_level_environment_installs_the_package_with_all_extras():
    _, _, options = _conda_env(REPO / "environment.yml")
    assert "-e .[all]" in options


def test_installed_widget_stack_is_the_pinned_one():
    """The versions the browser test proves are the versions the files pin."""
    nb = _extra("notebooks")
    for name in WIDGET_STACK:
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{name} not installed (install the notebooks extra)")
        assert nb[name].specifier.contains(installed, prereleases=True), f"installed {name} {installed} is not {nb[name]}"


def test_binder_scripts():
    post, start = BINDER / "postBuild", BINDER / "start"
    for script in (post, start):
        assert script.exists() and os.access(script, os.X_OK), f"{script.name} must exist and be executable"
        assert script.read_text().startswith("#!/usr/bin/env bash")
        subprocess.run(["bash", "-n", str(script)], check=True)  # syntax
    post_text = post.read_text()
    assert 'pip install --no-cache-dir -e ".[all]"' in post_text
    assert "00_quickstart.ipynb" in post_text and (REPO / "notebooks" / "00_quickstart.ipynb").exists()
    # postBuild's embedded Python must at least compile
    for block in re.findall(r"python - <<'PY'.*?\n(.*?)\nPY\n", post_text, flags=re.S):
        compile(block, "postBuild", "exec")
    start_text = start.read_text()
    assert start_text.rstrip().endswith('exec "$@"')


def test_dask_dashboard_link_goes_through_the_hub_proxy():
    """binder/start's dashboard template gives a link under the user's server prefix."""
    pytest.importorskip("distributed")
    line = next(l for l in (BINDER / "start").read_text().splitlines() if "DASK_DISTRIBUTED__DASHBOARD__LINK" in l)
    template = line.split("=", 1)[1].strip().strip('"')
    code = (
        "import dask, distributed.utils as u;"
        "print(u.format_dashboard_link('127.0.0.1', 8787))"
    )
    env = dict(os.environ, DASK_DISTRIBUTED__DASHBOARD__LINK=template, JUPYTERHUB_SERVICE_PREFIX="/user/alice/")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "/user/alice/proxy/8787/status"


def _repo2docker() -> list[str] | None:
    beside_python = Path(sys.executable).parent / "repo2docker"  # the venv's script when it is not on PATH
    exe = (os.environ.get("SICNB_REPO2DOCKER") or shutil.which("repo2docker") or shutil.which("jupyter-repo2docker")
           or (str(beside_python) if beside_python.exists() else None))
    return [exe] if exe else None


def test_repo2docker_accepts_binder_config(tmp_path):
    """repo2docker detects binder/environment.yml + postBuild + start + apt.txt and renders its build
    plan (Dockerfile) without building the image."""
    cmd = _repo2docker()
    if cmd is None:
        pytest.skip("repo2docker not installed (pip install jupyter-repo2docker) — binder build plan not rendered")
    # a clean copy of what Binder would see (tracked layout, no virtualenv)
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(".venv", ".git", "test-artifacts", "*.egg-info", "__pycache__", ".sicnb_cache", "_out"))
    proc = subprocess.run(cmd + ["--no-build", "--no-run", "--debug", str(copy)], capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "binder/environment.yml" in log, log[-3000:]
    assert "binder/postBuild" in log and "binder/start" in log, log[-3000:]
    assert "apt-get" in log and "libnss3" in log, "apt.txt packages missing from the build plan"
