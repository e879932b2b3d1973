"""Universal ML interatomic potentials by name: ``m3gnet`` (matgl), ``chgnet``, ``sevennet``.

>>> pot = load_potential("m3gnet")                 # $SICNB_MATGL_MODELS or matgl's download
>>> energies = pot.energies(structures)             # eV per cell, energy-only batched forward
>>> atoms.calc = pot.calculator()                   # ASE calculator for relaxation / MD

Model sources:

* ``m3gnet`` — matgl model folders (default ``M3GNet-MP-2021.2.8-PES``, the model of Maevskiy
  et al.). Looked up as ``model_dir`` argument → ``$SICNB_MATGL_MODELS/<model>`` → matgl's normal
  download (``matgl.load_model(<model>)``), which needs the network.
* ``chgnet`` — CHGNet 0.3.0 weights shipped in the ``chgnet`` wheel.
* ``sevennet`` — SevenNet-0 weights shipped in the ``sevenn`` wheel.

Every number a potential produces should be reported with :attr:`Potential.provenance`.

Every pretrained model is checked once at load (:mod:`sicnb.potentials.selftest`: energies, lattice constants,
formation energies or band gaps of small reference crystals); a model that fails raises
:class:`~sicnb.errors.ModelIntegrityError`.

matgl checkpoints of the DGL era (``M3GNet-MP-2021.2.8-PES``, ``M3GNet-MatPES-PBE-v2025.1-PES``,
``MEGNet-MP-2018.6.1-Eform``, ``MEGNet-MP-2019.4.1-BandGap-mfi``) were trained with the graph-convolution messages
aggregated onto the destination atom of each edge; current matgl aggregates onto the source atom, which leaves
elemental crystals unchanged and puts compounds 1-4 eV/atom off (M3GNet MgO -2.12 eV/atom instead of -5.95). sicnb
recognises these checkpoints by the fingerprint of their weights and runs them, and only them, with the convention
they were trained with (:mod:`sicnb.potentials.convention`, which explains the cause). Measured with matgl 4.1.2:
M3GNet-MP-2021.2.8 MgO -5.951, Li2O -4.725 eV/atom (PBE -5.95 / -4.76); MEGNet Eform MgO -3.065 eV/atom
(experiment -3.118).

Online (no local folder): matgl >= 4 downloads from the Hugging Face hub under new names
(:func:`resolve_matgl_name`); it no longer serves ``M3GNet-MP-2021.2.8-PES``, so online the PES default falls back to
``M3GNet-PES-MatPES-PBE-2025.2`` (matgl's re-release in its current convention), with the provenance saying so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ModelIntegrityError, ModelUnavailableError, OptionalDependencyError, ParameterError, StructureError, require

__all__ = ["load_potential", "as_potential", "first_available_potential", "Potential", "matgl_model_path", "load_matgl_model", "resolve_matgl_name", "POTENTIALS",
           "DEFAULT_MODELS", "ModelIntegrityError"]

POTENTIALS = ("m3gnet", "chgnet", "sevennet")
DEFAULT_MODELS = {"m3gnet": "M3GNet-MP-2021.2.8-PES", "chgnet": "0.3.0", "sevennet": "7net-0"}


def matgl_model_path(model: str, model_dir: str | os.PathLike | None = None) -> Path | None:
    """Local folder of a matgl model, or ``None`` when it should come from matgl's download.

    ``model_dir`` may be the model folder itself or a folder that contains it; otherwise
    ``$SICNB_MATGL_MODELS/<model>`` is tried. A given but missing path raises
    :class:`ModelUnavailableError` naming the paths tried.
    """
    tried = []
    bases = []
    if model_dir is not None:
        bases.append(Path(model_dir).expanduser())
    env = os.environ.get("SICNB_MATGL_MODELS")
    if env:
        bases.append(Path(env).expanduser())
    for b in bases:
        for cand in (b, b / model):
            tried.append(str(cand))
            if (cand / "model.json").exists() or (cand / "model.pt").exists():
                return cand
    if model_dir is not None:
        raise ModelUnavailableError(
            f"matgl model {model!r} not found; tried {tried}. Download it with matgl "
            f"(matgl.load_model({model!r}) online) or point SICNB_MATGL_MODELS at a folder of matgl models."
        )
    return None


#: matgl >= 4 loads pretrained models by name from the Hugging Face hub (org ``materialyze``), where they carry new
#: names; older matgl (< 4) downloads the names sicnb uses as they are. ``M3GNet-MP-2021.2.8-PES`` is not served by
#: matgl 4: its name resolves to matgl's re-trained PBE potential in the current convention, and the provenance of the
#: loaded model says so. MEGNet-Eform-MP-2018.6.1 and MEGNet-BandGap-mfi-MP-2019.4.1 hold the DGL-era weights
#: (recognised by their fingerprint; see sicnb.potentials.convention).
HUB_NAMES_MATGL4 = {
    "M3GNet-MP-2021.2.8-PES": "M3GNet-PES-MatPES-PBE-2025.2",
    "M3GNet-MatPES-PBE-v2025.1-PES": "M3GNet-PES-MatPES-PBE-2025.2",
    "MEGNet-MP-2018.6.1-Eform": "MEGNet-Eform-MP-2018.6.1",
    "MEGNet-MP-2019.4.1-BandGap-mfi": "MEGNet-BandGap-mfi-MP-2019.4.1",
}
#: names that matgl 4 serves under another model (a substitute, not the same weights)
_SUBSTITUTES_MATGL4 = {"M3GNet-MP-2021.2.8-PES"}


def resolve_matgl_name(model: str, matgl_version: str | None = None) -> tuple[str, str]:
    """Name to pass to ``matgl.load_model`` for ``model`` with this matgl version, and a note for the provenance
    (empty when the name is unchanged). Unknown names pass through unchanged."""
    if matgl_version is None:
        matgl = require("matgl", extra="ml")

        matgl_version = getattr(matgl, "__version__", "0")
    try:
        major = int(str(matgl_version).split(".")[0])
    except ValueError:
        major = 0
    if major >= 4 and model in HUB_NAMES_MATGL4:
        target = HUB_NAMES_MATGL4[model]
        if model in _SUBSTITUTES_MATGL4:
            return target, f"{model} is not served by matgl {matgl_version}; substituted by {target}"
        return target, f"{model} is served as {target} by matgl {matgl_version}"
    return model, ""


def _self_test_matgl(obj, model: str, fingerprint: str, convention: str) -> None:
    """Run the load-time self-test that fits a matgl model (PES potential or MEGNet); other models are not tested."""
    matgl = require("matgl", extra="ml")

    from sicnb.potentials import selftest

    key = f"matgl-{fingerprint[:20]}-{convention}-matgl{matgl.__version__}"
    hint = ("If this checkpoint was trained with DGL-era matgl (messages aggregated onto the destination atom), load "
            "it with aggregation='destination'." if convention == "source" else
            "This checkpoint is run with destination aggregation (DGL era); check the matgl version and sicnb.potentials.convention.")
    if hasattr(obj, "calc_forces") and hasattr(obj, "model"):  # matgl.apps.pes.Potential
        selftest.run_self_test(key, model, lambda: selftest.check_potential(lambda ss: _m3gnet_energies(obj, ss, 16), model), hint)
    elif type(getattr(obj, "model", obj)).__name__ == "MEGNet":
        selftest.run_self_test(key, model, lambda: selftest.check_megnet(obj, model), hint)


@lru_cache(maxsize=8)
def load_matgl_model(model: str, model_dir: str | None = None, aggregation: str | None = None):
    """Load a matgl model (cached per process), run with the aggregation convention it was trained with, after its
    load-time self-test.

    Local folders (``model_dir`` or ``$SICNB_MATGL_MODELS``) are trusted (the MEGNet folders need ``Normalizer``
    allowed under torch's ``weights_only`` loading); without one, matgl downloads :func:`resolve_matgl_name`'s name.
    ``aggregation``: ``None`` decides from the weights' fingerprint (:mod:`sicnb.potentials.convention`);
    ``"source"`` / ``"destination"`` force one (the self-test still runs, so a wrong choice raises
    :class:`ModelIntegrityError`). The loaded object carries ``sicnb_provenance`` (a dict).
    """
    matgl = require("matgl", extra="ml")
    torch = require("torch", extra="ml")

    from sicnb.potentials.convention import apply_aggregation, checkpoint_convention, weights_fingerprint

    path = matgl_model_path(model, model_dir)
    note = ""
    if path is not None:
        target = str(path)
    else:
        target, note = resolve_matgl_name(model)
    try:
        from matgl.data.transformer import Normalizer

        with torch.serialization.safe_globals([Normalizer]):
            obj = matgl.load_model(target)
    except ModelUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001
        where = f"local folder {path}" if path is not None else f"matgl's download of {target!r} (needs the network)"
        raise ModelUnavailableError(
            f"Could not load matgl model {model!r} from {where}: {type(exc).__name__}: {exc}. "
            "Offline, set SICNB_MATGL_MODELS to a folder holding the model directory."
        ) from exc
    fingerprint = weights_fingerprint(obj.state_dict())
    convention = aggregation or checkpoint_convention(fingerprint)
    apply_aggregation(obj, convention)
    _self_test_matgl(obj, model, fingerprint, convention)
    obj.sicnb_provenance = {"model": model, "loaded": target, "note": note, "aggregation": convention,
                            "weights_sha256": fingerprint, "matgl": str(getattr(matgl, "__version__", "?"))}
    return obj


def _check_ordered(structures: Sequence[Structure]) -> None:
    for i, s in enumerate(structures):
        if not s.is_ordered:
            raise StructureError(
                f"structure {i} ({s.composition.reduced_formula}) has partial occupancies; ML potentials need an "
                "ordered structure (order it first, e.g. sicnb.structure or pymatgen OrderDisorderedStructureTransformation)"
            )


def calculator_energies(calc, structures: Sequence) -> np.ndarray:
    """Total energies (eV per cell) of ``structures`` from one ASE calculator, one single point each."""
    from pymatgen.io.ase import AseAtomsAdaptor

    out = []
    for s in structures:
        atoms = AseAtomsAdaptor.get_atoms(s)
        atoms.calc = calc
        out.append(float(atoms.get_potential_energy()))
    return np.asarray(out, dtype=float)


@dataclass
class Potential:
    """A loaded universal potential: batched energies and an ASE calculator, with provenance."""

    name: str
    model: str
    source: str
    _impl: Any = field(repr=False, default=None)

    @property
    def provenance(self) -> dict[str, str]:
        return {"potential": self.name, "potential_model": self.model, "potential_source": self.source}

    def energies(self, structures: Sequence[Structure], batch_size: int = 16) -> np.ndarray:
        """Total energies (eV per cell) of ordered structures; energy-only (no forces/stress)."""
        structures = list(structures)
        if not structures:
            return np.zeros(0)
        _check_ordered(structures)
        if self.name == "m3gnet":
            return _m3gnet_energies(self._impl, structures, batch_size)
        if self.name == "chgnet":
            torch = require("torch", extra="ml")

            # CHGNet runs its forward pass with autograd on even for task="e"; the retained graph of one batch of a
            # dense 57-atom cell (LiAl5O8, ~10^3 angles per structure) took > 14 GB. No gradient is needed here:
            # same energies, 1.7 GB (tests/test_potentials.py).
            with torch.no_grad():
                preds = self._impl.predict_structure(structures, task="e", batch_size=batch_size)
            if isinstance(preds, dict):
                preds = [preds]
            return np.array([float(p["e"]) * len(s) for p, s in zip(preds, structures)])
        return calculator_energies(self.calculator(), structures)

    def calculator(self, **kwargs):
        """An ASE calculator (energy, forces, stress) for relaxation and MD."""
        if self.name == "m3gnet":
            from matgl.ext.ase import PESCalculator

            kwargs.setdefault("stress_unit", "eV/A3")  # ASE's unit (matgl's default is GPa)
            return PESCalculator(self._impl, **kwargs)
        if self.name == "chgnet":
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(model=self._impl, **kwargs)
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(self.model, **kwargs)


def _m3gnet_energies(potential, structures: Sequence[Structure], batch_size: int) -> np.ndarray:
    import copy

    matgl = require("matgl", extra="ml")
    torch = require("torch", extra="ml")
    from matgl.ext.pymatgen import Structure2Graph
    from torch_geometric.data import Batch

    pot = copy.copy(potential)
    pot.calc_forces = False
    pot.calc_stresses = False
    pot.calc_hessian = False
    conv = Structure2Graph(element_types=pot.model.element_types, cutoff=pot.model.cutoff)
    out = []
    for start in range(0, len(structures), batch_size):
        chunk = structures[start : start + batch_size]
        graphs, lats, states = [], [], []
        for s in chunk:
            g, lat, state = conv.get_graph(s)
            graphs.append(g)
            lats.append(lat[0] if lat.dim() == 3 else lat)
            states.append(torch.as_tensor(np.asarray(state), dtype=matgl.float_th).reshape(-1))
        batch = Batch.from_data_list(graphs)
        lat = torch.stack(lats)
        state = torch.stack(states)
        with torch.no_grad():
            e = pot(g=batch, lat=lat, state_attr=state)[0]
        out.extend(np.atleast_1d(e.detach().cpu().numpy()).tolist())
    return np.asarray(out, dtype=float)


def _package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


def load_potential(name: str = "m3gnet", model: str | None = None, model_dir: str | os.PathLike | None = None,
                   aggregation: str | None = None) -> Potential:
    """Load a universal potential by name (``m3gnet``, ``chgnet``, ``sevennet``), after its load-time self-test
    (:mod:`sicnb.potentials.selftest`; a miss raises :class:`ModelIntegrityError`).

    ``aggregation`` (M3GNet only): force the graph-convolution convention (``"source"`` / ``"destination"``);
    default: decided from the checkpoint (:mod:`sicnb.potentials.convention`)."""
    from sicnb.potentials import selftest

    key = name.lower().replace("-", "").replace("_", "")
    key = {"m3gnet": "m3gnet", "chgnet": "chgnet", "sevennet": "sevennet", "7net": "sevennet", "sevenn": "sevennet"}.get(key)
    if key is None:
        raise ParameterError(f"unknown potential {name!r}; choose from {POTENTIALS}")
    model = model or DEFAULT_MODELS[key]
    if key == "m3gnet":
        impl = load_matgl_model(model, str(model_dir) if model_dir is not None else None, aggregation)
        info = getattr(impl, "sicnb_provenance", {})
        source = f"{info.get('loaded', model)} ({info.get('aggregation', '?')} aggregation, matgl {info.get('matgl', '?')})"
        if info.get("note"):
            source += f"; {info['note']}"
        return Potential("m3gnet", model, source, impl)
    if key == "chgnet":
        require("chgnet", extra="ml")
        from chgnet.model import CHGNet

        try:
            impl = CHGNet.load(model_name=model, verbose=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelUnavailableError(f"CHGNet {model!r} could not be loaded from the chgnet wheel: {exc}") from exc
        pot = Potential("chgnet", model, f"chgnet {_package_version('chgnet')} wheel", impl)
        selftest.run_self_test(f"chgnet-{model}-{_package_version('chgnet')}", f"CHGNet {model}",
                               lambda: selftest.check_potential(pot.energies, f"CHGNet {model}", corrected=True))
        return pot
    require("sevenn", extra="ml")
    pot = Potential("sevennet", model, f"sevenn {_package_version('sevenn')} wheel", None)
    selftest.run_self_test(f"sevennet-{model}-{_package_version('sevenn')}", f"SevenNet {model}",
                           lambda: selftest.check_potential(pot.energies, f"SevenNet {model}"))
    return pot


@lru_cache(maxsize=4)
def _load_potential_cached(name: str, model: str | None) -> Potential:
    return load_potential(name, model=model)


def as_potential(potential: "str | Potential", model: str | None = None) -> Potential:
    """A :class:`Potential` from a name (loaded once per process and model) or the object itself (returned as is:
    anything with ``energies(structures, batch_size)`` and ``calculator()`` works)."""
    if isinstance(potential, str):
        return _load_potential_cached(potential, model)
    return potential


#: potentials found unavailable in this process, with the reason (see :func:`first_available_potential`)
_UNAVAILABLE: dict[str, str] = {}


def first_available_potential(names: Sequence[str]) -> tuple[str, str]:
    """The first potential of ``names`` that loads here (and passes its self-test), with a note naming each one
    skipped and why (``""`` when the first loads).

    Only *unavailable* models are skipped (no local folder and no network, a missing package): a model that loads
    but fails its self-test raises :class:`ModelIntegrityError`, never falls back. For notebooks and CLIs that prefer
    the paper's potential (M3GNet, whose weights matgl downloads) but must run offline on the wheels' CHGNet.
    Raises :class:`ModelUnavailableError` when none loads."""
    skipped: list[str] = []
    for name in names:
        if name in _UNAVAILABLE:  # tried in this process already (a failed download can take a minute)
            skipped.append(f"{name}: {_UNAVAILABLE[name]}")
            continue
        try:
            as_potential(name)
        except (ModelUnavailableError, OptionalDependencyError) as exc:
            _UNAVAILABLE[name] = str(exc).splitlines()[0][:200]
            skipped.append(f"{name}: {_UNAVAILABLE[name]}")
            continue
        note = f"using {name!r} because " + "; ".join(skipped) if skipped else ""
        return name, note
    raise ModelUnavailableError("none of the potentials " + ", ".join(map(repr, names)) + " could be loaded: " + "; ".join(skipped))
