"""The one MEGNet band-gap predictor of sicnb (Chen et al., Nat. Comput. Sci. 1, 46 (2021)).

``MEGNet-MP-2019.4.1-BandGap-mfi`` is a multi-fidelity model: the state attribute picks the DFT level
whose gap it predicts. Fidelity is named by its functional everywhere in sicnb (``"PBE"``, ``"GLLB-SC"``,
``"HSE"``, ``"SCAN"``); the integer index of the matgl model is accepted too (``0`` = PBE).
Callers: :func:`sicnb.htvs.properties.band_gap_megnet` (default GLLB-SC, clipped at 0 eV),
:func:`sicnb.cluster.candidates.megnet_band_gap` (PBE on the majority-ordered approximant) and
:func:`sicnb.classify.screening.band_gap` (PBE on the occupancy-weighted graph of a disordered cell).
"""
from __future__ import annotations

from pymatgen.core import Structure

from sicnb.errors import ParameterError, require

__all__ = ["BANDGAP_MODEL", "FIDELITIES", "fidelity_index", "megnet_band_gap_eV"]

BANDGAP_MODEL = "MEGNet-MP-2019.4.1-BandGap-mfi"
#: state-attribute index of each fidelity of the multi-fidelity model
FIDELITIES = {"PBE": 0, "GLLB-SC": 1, "HSE": 2, "SCAN": 3}


def fidelity_index(fidelity: "str | int") -> int:
    """The model's state index for ``fidelity`` (a name of :data:`FIDELITIES` or its index)."""
    if isinstance(fidelity, str) and fidelity in FIDELITIES:
        return FIDELITIES[fidelity]
    if not isinstance(fidelity, (str, bool)) and int(fidelity) == fidelity and int(fidelity) in FIDELITIES.values():
        return int(fidelity)
    raise ParameterError(f"band-gap fidelity {fidelity!r} unknown; choose from {sorted(FIDELITIES)} (or their index 0-3)")


def megnet_band_gap_eV(structure: Structure, fidelity: "str | int" = "PBE", model: str = BANDGAP_MODEL,
                       volume_scale: float = 1.0) -> float:
    """Predicted band gap (eV, not clipped) of an ordered ``structure`` at ``fidelity``.

    Oxidation states are removed (the model reads elements); ``volume_scale`` rescales the cell volume first.
    The model is loaded once per process (:func:`sicnb.potentials.load_matgl_model`, ``$SICNB_MATGL_MODELS``).
    """
    from sicnb.potentials import load_matgl_model

    torch = require("torch", extra="ml")
    idx = fidelity_index(fidelity)
    m = load_matgl_model(model)
    s = structure.copy()
    s.remove_oxidation_states()
    if volume_scale != 1.0:
        s.scale_lattice(s.volume * float(volume_scale))
    with torch.no_grad():
        return float(m.predict_structure(s, state_attr=torch.tensor([idx])))
