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

Known problem — ``M3GNet-MP-2021.2.8-PES`` with the matgl versions that run on current PyTorch
(checked: matgl 3.0.5, 4.0.0, 4.1.2 with torch 2.13 CPU; all three agree to 1e-4 eV/atom, through
matgl's own ``PESCalculator`` and through :meth:`Potential.energies`): elemental cells look right
(fcc Al -3.70 eV/atom, bcc Li -1.90) but compounds do not — rock-salt MgO -2.11 eV/atom (MP about
-5.9), antifluorite Li2O -1.37 (about -4.8), LiF +1.07, NaCl -1.30 (about -3.4), and the energy
minima of E(a) lie 4-10 % above the experimental lattice constants (Li2O 5.01 vs 4.61 Angstrom,
MgO 4.39 vs 4.21, LiF 4.42 vs 4.03). The weights load completely (every parameter of the file is
used; only the unused DGL-era ``element_refs.onehot`` buffer, an identity matrix, is dropped);
reordering edges and the three-body index mapping of the line graph change nothing. CHGNet 0.3.0
gives Li2O -4.93 eV/atom with a0 = 4.71 Angstrom. Not resolved: an old DGL-backend matgl, the
version the model was trained with, does not install next to torch 2.13. sicnb's PES and MD
defaults are therefore CHGNet / SevenNet; loading this model warns.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ModelUnavailableError, ParameterError, StructureError, require

__all__ = ["load_potential", "Potential", "matgl_model_path", "load_matgl_model", "POTENTIALS", "DEFAULT_MODELS"]

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


@lru_cache(maxsize=8)
def load_matgl_model(model: str, model_dir: str | None = None):
    """Load a matgl model (cached per process). Local folders are trusted (the MEGNet folders need
    ``Normalizer`` allowed under torch's ``weights_only`` loading)."""
    matgl = require("matgl", extra="ml")
    import torch

    path = matgl_model_path(model, model_dir)
    target = str(path) if path is not None else model
    try:
        from matgl.data.transformer import Normalizer

        with torch.serialization.safe_globals([Normalizer]):
            return matgl.load_model(target)
    except ModelUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001
        where = f"local folder {path}" if path is not None else "matgl's download (needs the network)"
        raise ModelUnavailableError(
            f"Could not load matgl model {model!r} from {where}: {type(exc).__name__}: {exc}. "
            "Offline, set SICNB_MATGL_MODELS to a folder holding the model directory."
        ) from exc


def _check_ordered(structures: Sequence[Structure]) -> None:
    for i, s in enumerate(structures):
        if not s.is_ordered:
            raise StructureError(
                f"structure {i} ({s.composition.reduced_formula}) has partial occupancies; ML potentials need an "
                "ordered structure (order it first, e.g. sicnb.structure or pymatgen OrderDisorderedStructureTransformation)"
            )


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
            import torch

            # CHGNet runs its forward pass with autograd on even for task="e"; the retained graph of one batch of a
            # dense 57-atom cell (LiAl5O8, ~10^3 angles per structure) took > 14 GB. No gradient is needed here:
            # same energies, 1.7 GB (tests/test_potentials.py).
            with torch.no_grad():
                preds = self._impl.predict_structure(structures, task="e", batch_size=batch_size)
            if isinstance(preds, dict):
                preds = [preds]
            return np.array([float(p["e"]) * len(s) for p, s in zip(preds, structures)])
        calc = self.calculator()
        from pymatgen.io.ase import AseAtomsAdaptor

        out = []
        for s in structures:
            atoms = AseAtomsAdaptor.get_atoms(s)
            atoms.calc = calc
            out.append(float(atoms.get_potential_energy()))
        return np.array(out)

    def calculator(self, **kwargs):
        """An ASE calculator (energy, forces, stress) for relaxation and MD."""
        if self.name == "m3gnet":
            from matgl.ext.ase import PESCalculator

            return PESCalculator(self._impl, **kwargs)
        if self.name == "chgnet":
            from chgnet.model.dynamics import CHGNetCalculator

            return CHGNetCalculator(model=self._impl, **kwargs)
        from sevenn.calculator import SevenNetCalculator

        return SevenNetCalculator(self.model, **kwargs)


def _m3gnet_energies(potential, structures: Sequence[Structure], batch_size: int) -> np.ndarray:
    import copy

    import matgl
    import torch
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


def load_potential(name: str = "m3gnet", model: str | None = None, model_dir: str | os.PathLike | None = None) -> Potential:
    """Load a universal potential by name (``m3gnet``, ``chgnet``, ``sevennet``)."""
    key = name.lower().replace("-", "").replace("_", "")
    key = {"m3gnet": "m3gnet", "chgnet": "chgnet", "sevennet": "sevennet", "7net": "sevennet", "sevenn": "sevennet"}.get(key)
    if key is None:
        raise ParameterError(f"unknown potential {name!r}; choose from {POTENTIALS}")
    model = model or DEFAULT_MODELS[key]
    if key == "m3gnet":
        if model == "M3GNet-MP-2021.2.8-PES":
            import warnings

            warnings.warn(
                "M3GNet-MP-2021.2.8-PES gives implausible energies for compounds with matgl >= 3 on current torch "
                "(Li2O -1.37 eV/atom vs about -4.8; see sicnb.potentials); prefer load_potential('chgnet')",
                stacklevel=2,
            )
        path = matgl_model_path(model, model_dir)
        impl = load_matgl_model(model, str(model_dir) if model_dir is not None else None)
        return Potential("m3gnet", model, str(path) if path else f"matgl download: {model}", impl)
    if key == "chgnet":
        require("chgnet", extra="ml")
        from chgnet.model import CHGNet

        try:
            impl = CHGNet.load(model_name=model, verbose=False)
        except Exception as exc:  # noqa: BLE001
            raise ModelUnavailableError(f"CHGNet {model!r} could not be loaded from the chgnet wheel: {exc}") from exc
        return Potential("chgnet", model, "chgnet wheel", impl)
    require("sevenn", extra="ml")
    return Potential("sevennet", model, "sevenn wheel", None)
