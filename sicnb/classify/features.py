"""Disorder-aware atom features V0..V3 (McHaffie et al., Digital Discovery 2025, §2.2–2.3 = thesis Ch. 4).

* **V0** – each site's feature is the occupancy-weighted sum of 16-d elemental embeddings,
  ``W_disordered = Σ_i x_i W_{Z_i}`` (§2.2), with the embedding table of the pretrained MEGNet
  formation-energy model. The table ships with sicnb (``megnet16_embeddings.json``, extracted once
  from ``MEGNet-MP-2018.6.1-Eform``, BSD-3-Clause, Materials Virtual Lab), so V0 needs no model files.
* **V1..V3** – the V0 node features passed through the node encoder and the first 1..3
  graph-convolution (MEGNet) blocks of that pretrained model (§2.3). The graph is the site graph
  (4 Å cutoff of the model); disordered sites enter with their weighted embedding. Needs the
  matgl model folder (``$SICNB_MATGL_MODELS``) and raises :class:`ModelUnavailableError` otherwise.
* Structure representations (§2.3, Methods 4.3): ``CAMN`` (as is), ``CAN`` (Li removed),
  ``CAMNS`` (cations→Al, anions→S, neutral→Mg, Li kept), ``CANS`` (CAMNS without Li).
  NB: :func:`sicnb.structure.simplify` uses the Ch. 2 names, where its ``CAMN`` is Ch. 4's CAMNS.

Known difference from the paper: the paper used the TF MEGNet model trained on MP-2019.4.1
(133 420 structures); the open model here is matgl's retrained MEGNet on MP-2018.6.1.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from sicnb.errors import ModelUnavailableError, ParameterError, StructureError

__all__ = [
    "REPRESENTATIONS", "LEVELS", "EFORM_MODEL", "elemental_embeddings", "site_embeddings",
    "megnet_node_features", "atom_features", "represent", "EMBEDDINGS_CITATION",
]

#: Ch. 4 (paper) representation name → scheme name of :func:`sicnb.structure.simplify` (Ch. 2 names).
#: Everything in ``sicnb.classify`` (arguments, tables, figures, model cards) uses the paper's names.
REPRESENTATIONS = {"CAMN": "none", "CAN": "no_mobile", "CAMNS": "CAMN", "CANS": "CAN"}
LEVELS = (0, 1, 2, 3)
EFORM_MODEL = "MEGNet-MP-2018.6.1-Eform"
EMBEDDINGS_FILE = Path(__file__).with_name("megnet16_embeddings.json")
EMBEDDINGS_CITATION = "Chen, Ye, Zuo, Zheng, Ong, Chem. Mater. 31, 3564 (2019) (MEGNet; matgl pretrained MEGNet-MP-2018.6.1-Eform, BSD-3-Clause)"


@lru_cache(maxsize=1)
def _embedding_table() -> tuple[dict[str, int], np.ndarray, dict]:
    meta = json.loads(EMBEDDINGS_FILE.read_text())
    els = list(meta["elements"])
    table = np.array([meta["embeddings"][e] for e in els], dtype=np.float64)
    return {e: i for i, e in enumerate(els)}, table, {k: v for k, v in meta.items() if k != "embeddings"}


def elemental_embeddings() -> tuple[list[str], np.ndarray]:
    """The shipped 16-d MEGNet elemental embeddings: (element symbols, array of shape (89, 16))."""
    index, table, _ = _embedding_table()
    return list(index), table.copy()


def site_embeddings(structure: Structure) -> np.ndarray:
    """V0 matrix (n_sites × 16): per site ``Σ_i x_i W_{Z_i}`` over its species (eq. in §2.2).

    Occupancies are used as given (a half-occupied Li site gives ``0.5 W_Li``); oxidation
    decorations are ignored. Raises :class:`StructureError` for elements outside the table
    (H..Pu except a few noble gases/actinides the model never saw).
    """
    index, table, _ = _embedding_table()
    out = np.zeros((len(structure), table.shape[1]))
    for i, site in enumerate(structure):
        for sp, x in site.species.items():
            sym = getattr(sp, "symbol", None) or getattr(getattr(sp, "element", None), "symbol", None) or str(sp)
            j = index.get(sym)
            if j is None:
                raise StructureError(
                    f"{structure.composition.reduced_formula}: element {sym!r} has no MEGNet embedding "
                    f"(the model covers {len(index)} elements); drop or substitute it before featurising."
                )
            out[i] += float(x) * table[j]
    return out


def represent(structure: Structure, representation: str = "CAMN", mobile_ion: str = "Li") -> Structure:
    """The structure in one of the Ch. 4 representations CAMN, CAN, CAMNS, CANS (Methods 4.3)."""
    from sicnb.structure import simplify

    if representation not in REPRESENTATIONS:
        raise ParameterError(f"representation must be one of {tuple(REPRESENTATIONS)}, not {representation!r}")
    return simplify(structure, REPRESENTATIONS[representation], mobile_ion=mobile_ion)


def _load_megnet(model: str):
    from sicnb.potentials import load_matgl_model, matgl_model_path

    try:
        if matgl_model_path(model) is None:
            raise ModelUnavailableError(
                f"V1-V3 atom features need the matgl model {model!r}, and SICNB_MATGL_MODELS is not set. "
                f"Set SICNB_MATGL_MODELS to a folder holding {model}/ (matgl's pretrained_models), "
                "or use level=0 (V0), which needs only the shipped embedding table."
            )
        return load_matgl_model(model)
    except ModelUnavailableError:
        raise
    except ImportError as exc:
        raise ModelUnavailableError(f"V1-V3 atom features need matgl and torch ({exc}); use level=0 or install sicnb[ml].") from exc


def megnet_node_features(
    structure: Structure,
    n_blocks: int,
    model: str = EFORM_MODEL,
    state_attr: Any = None,
    return_output: bool = False,
):
    """Node features after ``n_blocks`` MEGNet graph convolutions, starting from occupancy-weighted
    embeddings (the disordered-graph construction of §2.2 applied to the pretrained model).

    ``n_blocks=0`` returns the node-encoder input (= V0). With ``return_output=True`` the full
    forward pass runs and ``(node_features, model_output)`` is returned (the model's target in its
    own units, e.g. eV/atom for Eform, eV for band gap) — used for the E_g screen.
    """
    from sicnb.errors import require

    torch = require("torch", extra="ml")

    wrapped = _load_megnet(model)
    net = getattr(wrapped, "model", wrapped)
    if n_blocks > len(net.blocks):
        raise ParameterError(f"{model} has {len(net.blocks)} graph-convolution blocks; n_blocks={n_blocks} asked")
    from matgl.ext.pymatgen import Structure2Graph
    from matgl.graph._compute import compute_pair_vector_and_distance

    index, _, _ = _embedding_table()
    emb_w = net.embedding.layer_node_embedding.weight.detach()
    # weighted embedding with *this model's* table (same rows as the shipped table for Eform)
    els = list(net.element_types)
    occ = torch.zeros((len(structure), len(els)), dtype=emb_w.dtype)
    for i, site in enumerate(structure):
        for sp, x in site.species.items():
            sym = getattr(sp, "symbol", None) or str(sp)
            if sym not in els:
                raise StructureError(f"{structure.composition.reduced_formula}: element {sym!r} not in {model}'s element list")
            occ[i, els.index(sym)] += float(x)
    proxy = Structure(structure.lattice, ["H"] * len(structure), structure.frac_coords)
    conv = Structure2Graph(element_types=tuple(els), cutoff=net.cutoff)
    g, lat, state_default = conv.get_graph(proxy)
    if g.edge_index.shape[1] == 0:
        raise StructureError(
            f"{structure.composition.reduced_formula}: no neighbours within the MEGNet cutoff ({net.cutoff} Å); "
            "the graph features are undefined for isolated atoms."
        )
    pos = g.frac_coords.to(emb_w.dtype) @ lat[0].to(emb_w.dtype)
    offshift = g.pbc_offset.to(emb_w.dtype) @ lat[0].to(emb_w.dtype)
    with torch.no_grad():
        node_feat = occ @ emb_w
        v0 = node_feat
        if n_blocks == 0 and not return_output:
            return v0.numpy().astype(np.float64)
        _, dist = compute_pair_vector_and_distance(pos, g.edge_index, offshift)
        edge_attr = net.bond_expansion(dist)
        if state_attr is None:
            state_attr = torch.tensor(np.asarray(state_default), dtype=emb_w.dtype)
        emb = net.embedding
        edge_feat = emb.layer_edge_embedding(edge_attr) if emb.dim_edge_embedding is not None else edge_attr
        if emb.include_state:
            if emb.ntypes_state is not None and emb.dim_state_embedding is not None:
                state_feat = emb.layer_state_embedding(torch.as_tensor(state_attr).long())
            else:
                state_feat = torch.as_tensor(state_attr, dtype=emb_w.dtype)
        else:
            state_feat = torch.as_tensor(state_attr, dtype=emb_w.dtype)
        edge_feat = net.edge_encoder(edge_feat)
        node_feat = net.node_encoder(node_feat)
        state_feat = net.state_encoder(state_feat)
        if state_feat.dim() == 1:
            state_feat = state_feat.unsqueeze(0)
        feats = {0: v0}
        n_nodes = node_feat.shape[0]
        for i, block in enumerate(net.blocks):
            edge_feat, node_feat, state_feat = block(g.edge_index, edge_feat, node_feat, state_feat, None, None, n_nodes, 1)
            if state_feat.dim() == 1:
                state_feat = state_feat.unsqueeze(0)
            feats[i + 1] = node_feat
            if i + 1 >= n_blocks and not return_output:
                break
        chosen = feats[n_blocks].numpy().astype(np.float64)
        if not return_output:
            return chosen
        node_vec = net.node_s2s(node_feat, None).view(1, -1)
        edge_vec = net.edge_s2s(edge_feat, None, num_graphs=1).view(1, -1)
        vec = torch.cat([node_vec, edge_vec, state_feat.view(1, -1)], dim=-1)
        out = torch.squeeze(net.output_proj(vec))
        if wrapped is not net and getattr(wrapped, "transformer", None) is not None:
            out = wrapped.transformer.inverse_transform(out)
        return chosen, float(out)


def _canonical_rows(mat: np.ndarray) -> np.ndarray:
    """Rows in a frame- and order-independent order (lexicographic on values rounded to 1e-5)."""
    if len(mat) == 0:
        return mat
    key = np.round(mat, 5)
    order = np.lexsort(key.T[::-1])
    return mat[order]


def atom_features(
    structure: Structure,
    level: int = 0,
    representation: str = "CAMN",
    mobile_ion: str = "Li",
    model: str = EFORM_MODEL,
) -> dict:
    """Per-structure atom-feature matrix V_level of one representation (for :func:`sicnb.parallel.pmap`).

    Returns ``{"features": n_atoms × n_features nested list (rows in canonical order),
    "n_atoms", "n_features", "is_disordered", "formula"}``. V0 is 16-d, V1–V3 are 32-d.
    Raises :class:`StructureError` when the representation leaves no atoms or an element has no
    embedding, :class:`ModelUnavailableError` for level ≥ 1 without the MEGNet model.
    """
    if level not in LEVELS:
        raise ParameterError(f"level must be one of {LEVELS} (V0..V3), not {level!r}")
    rep = represent(structure, representation, mobile_ion=mobile_ion)
    if len(rep) == 0:
        raise StructureError(f"{structure.composition.reduced_formula}: representation {representation} leaves no atoms")
    mat = site_embeddings(rep) if level == 0 else megnet_node_features(rep, level, model=model)
    mat = _canonical_rows(mat)
    return {
        "features": mat.tolist(),
        "n_atoms": int(mat.shape[0]),
        "n_features": int(mat.shape[1]),
        "is_disordered": bool(not structure.is_ordered),
        "formula": structure.composition.reduced_formula,
    }


atom_features.cache_version = 1  # type: ignore[attr-defined]
