"""Message-aggregation convention of matgl graph convolutions, per loaded model.

Cause (issue 16): matgl's graph convolutions build, for every directed edge ``src -> dst`` (``src`` the centre atom,
``dst`` its neighbour), a message from ``(v_src, v_dst, e_src_dst)``. The DGL-era matgl that trained
``M3GNet-MP-2021.2.8-PES``, ``M3GNet-MatPES-PBE-v2025.1-PES``, ``MEGNet-MP-2018.6.1-Eform`` and
``MEGNet-MP-2019.4.1-BandGap-mfi`` summed (M3GNet, ``fn.sum``) or averaged (MEGNet, ``fn.mean``) these messages onto
the **destination** atom. Current matgl (the PyG port, "post-#761 aggregation convention" in its docstrings;
matgl 4.1.2: ``M3GNetGraphConv.node_update_`` → ``scatter_add(mess, src)``, ``MEGNetGraphConv.node_update_`` →
``scatter_mean(edge_feat, src)``) aggregates onto the **source** atom. In an elemental crystal every atom sees the
same messages either way; in a compound it does not: M3GNet-MP-2021.2.8 MgO -2.12 eV/atom instead of -5.95,
MEGNet Eform MgO -2.52 instead of -3.07 eV/atom (experiment -3.12).

The fix is scoped to the model object sicnb loaded: each ``M3GNetGraphConv`` / ``MEGNetGraphConv`` instance of that
model gets its class switched to a subclass defined here whose ``node_update_`` aggregates onto ``dst``
(:func:`apply_aggregation`). Other matgl models in the same process are untouched; the subclass pickles and
deep-copies like the original. Which checkpoints need it is decided from the checkpoint itself: the SHA-256 of its
weights (every tensor of the loaded model's state dict, by name, so a re-serialised copy of the same weights is
recognised too) is looked up in :data:`DESTINATION_CHECKPOINTS`; anything else keeps matgl's current convention. The load-time self-test
(:mod:`sicnb.potentials.selftest`) then checks the result against reference values either way.
"""
from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["DESTINATION_CHECKPOINTS", "weights_fingerprint", "checkpoint_convention", "apply_aggregation", "model_convention"]

#: SHA-256 of the weights (:func:`weights_fingerprint` of the loaded model's ``state_dict()``) of the DGL-era checkpoints, trained with
#: destination aggregation. Measured on the files of matgl's ``pretrained_models`` folders (byte-identical to the
#: published ones); the same weights are served by matgl 4.x as MEGNet-Eform-MP-2018.6.1 and
#: MEGNet-BandGap-mfi-MP-2019.4.1 (matgl's own docs print CsCl E_f -1.924 eV/atom and PBE gap 2.717 eV, which these
#: weights give in the source convention; the destination convention gives -2.272 eV/atom, experiment -2.30).
DESTINATION_CHECKPOINTS: dict[str, str] = {
    "375ec813f18a73b41d78f8812c0ffffbc8d5041469801eb82d2ff4ab04ebdd4a": "M3GNet-MP-2021.2.8-PES",
    "c1f61ac332b070deba1e81449b770e1a400a5de4d1acca950e8b45e933b20205": "M3GNet-MatPES-PBE-v2025.1-PES",
    "0cf26682d46e85cf83f0cb30a527f9526368aebbb0db31325262a64444870a32": "MEGNet-MP-2018.6.1-Eform",
    "885567da82282f8ff1a1c3bdc7d7b3d696f3fc0346d25bc7f91d7c88f373d1cd": "MEGNet-MP-2019.4.1-BandGap-mfi",
}

_M3GNET_CONV = None
_MEGNET_CONV = None


def weights_fingerprint(state: dict[str, Any]) -> str:
    """SHA-256 over every tensor of a state dict (name, dtype, shape, bytes), in sorted name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name]
        h.update(name.encode())
        if hasattr(t, "detach"):
            arr = t.detach().cpu().contiguous().numpy()
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(arr.tobytes())
        else:
            h.update(repr(t).encode())
    return h.hexdigest()


def checkpoint_convention(fingerprint: str) -> str:
    """``"destination"`` for the known DGL-era checkpoints, else ``"source"`` (matgl's current convention)."""
    return "destination" if fingerprint in DESTINATION_CHECKPOINTS else "source"


def _conv_classes():
    """Destination-aggregating subclasses of matgl's two graph convolutions (built once, on first use)."""
    global _M3GNET_CONV, _MEGNET_CONV
    if _M3GNET_CONV is None:
        from sicnb.errors import require

        torch = require("torch", extra="ml")
        from matgl.layers._graph_convolution import M3GNetGraphConv, MEGNetGraphConv
        from matgl.utils.maths import scatter_add, scatter_mean

        class DestinationM3GNetGraphConv(M3GNetGraphConv):
            """M3GNet graph convolution with the DGL-era convention: node messages summed onto ``dst``."""

            def node_update_(self, edge_index, edge_feat, node_feat, rbf, u_per_edge, num_nodes):
                src, dst = edge_index[0], edge_index[1]
                parts = [node_feat[src], node_feat[dst], edge_feat]
                if self.include_state:
                    parts.append(u_per_edge)
                mess = self.node_update_func(torch.hstack(parts)) * self.node_weight_func(rbf)
                return scatter_add(mess, dst, dim_size=num_nodes, dim=0)

        class DestinationMEGNetGraphConv(MEGNetGraphConv):
            """MEGNet graph convolution with the DGL-era convention: edge features averaged onto ``dst``."""

            def node_update_(self, edge_index, edge_feat, node_feat, u_per_node, num_nodes):
                ve = scatter_mean(edge_feat, edge_index[1], dim_size=num_nodes, dim=0)
                return self.node_func(torch.hstack([node_feat, ve, u_per_node]))

        DestinationM3GNetGraphConv.__module__ = DestinationMEGNetGraphConv.__module__ = __name__
        DestinationM3GNetGraphConv.__qualname__ = "DestinationM3GNetGraphConv"
        DestinationMEGNetGraphConv.__qualname__ = "DestinationMEGNetGraphConv"
        globals()["DestinationM3GNetGraphConv"] = DestinationM3GNetGraphConv
        globals()["DestinationMEGNetGraphConv"] = DestinationMEGNetGraphConv
        _M3GNET_CONV, _MEGNET_CONV = DestinationM3GNetGraphConv, DestinationMEGNetGraphConv
    return _M3GNET_CONV, _MEGNET_CONV


def __getattr__(name: str):  # pickled models name these classes; build them on demand when unpickling
    if name in ("DestinationM3GNetGraphConv", "DestinationMEGNetGraphConv"):
        m3, meg = _conv_classes()
        return m3 if name == "DestinationM3GNetGraphConv" else meg
    raise AttributeError(name)


def apply_aggregation(model, convention: str) -> int:
    """Set the aggregation convention of every M3GNet/MEGNet graph convolution inside ``model`` (this object only).

    ``convention``: ``"destination"`` (DGL-era checkpoints) or ``"source"`` (matgl's current code). Returns the number
    of convolution layers switched; models without these layers are left as they are.
    """
    from matgl.layers._graph_convolution import M3GNetGraphConv, MEGNetGraphConv

    if convention not in ("source", "destination"):
        from sicnb.errors import ParameterError

        raise ParameterError(f"aggregation convention must be 'source' or 'destination', not {convention!r}")
    dst_m3, dst_meg = _conv_classes()
    n = 0
    for mod in model.modules():
        if isinstance(mod, M3GNetGraphConv):
            mod.__class__ = dst_m3 if convention == "destination" else M3GNetGraphConv
            n += 1
        elif isinstance(mod, MEGNetGraphConv):
            mod.__class__ = dst_meg if convention == "destination" else MEGNetGraphConv
            n += 1
    return n


def model_convention(model) -> str | None:
    """The aggregation convention of a loaded model's graph convolutions (``None`` when it has none)."""
    from matgl.layers._graph_convolution import M3GNetGraphConv, MEGNetGraphConv

    dst_m3, dst_meg = _conv_classes()
    for mod in model.modules():
        if isinstance(mod, (dst_m3, dst_meg)):
            return "destination"
        if isinstance(mod, (M3GNetGraphConv, MEGNetGraphConv)):
            return "source"
    return None
