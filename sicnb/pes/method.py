"""The PES method (frozen-framework ML-potential scans: MPE, free volumes, Ξ), declared once.

Its ledger entry is a cascade on a shortlist (sicnb/ledger/methods.py) and ``sicnb pes`` has its own
command module, so the declaration feeds the batch function, the featurizer and the generic tests."""
from __future__ import annotations

from sicnb.methods import Method, params_from_signature, register
from sicnb.pes.scan import pes_descriptors

__all__ = ["PES", "PesParams"]

#: every keyword parameter of :func:`pes_descriptors` with its default (grid step in Å, thresholds in eV, ...)
PesParams = params_from_signature(pes_descriptors, "PesParams")

PES = register(Method(
    name="pes", title="PES Ξ", function=pes_descriptors, params=PesParams,
    features={"MPE": "mpe_eV", "Xi": "xi"}, score="xi", direction=+1,
    citations=("PES paper: frozen-framework potential-energy-surface descriptors, eqs. 3-4 (MPE, FV, Ξ)",),
    model="universal ML potential (default M3GNet-MP-2021.2.8-PES)",
    description="Ξ (eq. 4 of the PES paper) from frozen-framework ML-potential scans; MPE in eV",
    testing={"params": {"step": 0.5}, "structures": ("Li2O",), "atol": 0.05},
    ledger=False, cli=False, slow=True,
))
