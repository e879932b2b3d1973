"""AtomSets classifier (Chen & Ong, npj Comput. Mater. 7, 173 (2021)) as used by McHaffie et al. 2025.

Architecture (Methods 4.3): dense layers on each atom's feature vector → set2set readout
(permutation invariant; ``torch_geometric.nn.aggr.Set2Set``) → dense layers → sigmoid, with
dropout and L2 regularisation added as in Methods 4.4. Label: superionic ⇔ σ_exp ≥ 1e-4 S/cm.

Training: binary cross-entropy, AdamW (decoupled L2 = ``l2``) with a triangular-2 cyclical learning
rate (``torch.optim.lr_scheduler.CyclicLR``). The paper used LAMB + Lookahead; those optimisers are
not in torch, so this is a documented substitution.

Inputs ``X`` are sequences of per-structure atom-feature matrices (n_atoms × n_features).
Weights are saved as plain tensors (JSON-safe, no pickle).
"""
from __future__ import annotations

import base64
import copy
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from sicnb.errors import InputError, ParameterError, require

__all__ = ["AtomSetsClassifier", "AtomSetsNet", "state_to_json", "state_from_json", "stack_sets"]

CITATIONS = [
    "Chen & Ong, AtomSets as a hierarchical transfer learning framework for small and large materials datasets, npj Comput. Mater. 7, 173 (2021)",
    "McHaffie, Laskowski, See et al., Classification of (dis)ordered structures as superionic lithium conductors, Digital Discovery 4, 1518 (2025)",
    "Vinyals, Bengio, Kudlur, Order Matters: Sequence to sequence for sets, ICLR 2016 (set2set)",
]


def _torch():
    return require("torch", extra="ml")


def stack_sets(X: Sequence[np.ndarray]):
    """Concatenate atom-feature matrices → (x tensor, index tensor of set membership)."""
    torch = _torch()
    mats = [np.asarray(m, dtype=np.float32) for m in X]
    for i, m in enumerate(mats):
        if m.ndim != 2 or len(m) == 0:
            raise InputError(f"atom-feature matrix {i} has shape {m.shape}; expected (n_atoms ≥ 1, n_features)")
    x = torch.from_numpy(np.concatenate(mats, axis=0))
    index = torch.from_numpy(np.repeat(np.arange(len(mats)), [len(m) for m in mats]))
    return x, index


def AtomSetsNet(n_features: int, hidden: Sequence[int] = (64, 64), set2set_steps: int = 3,
                dense: Sequence[int] = (64,), dropout: float = 0.1):
    """The torch module: ``forward(x, index, n_sets) -> logits`` (one per set)."""
    torch = _torch()
    from torch import nn
    from torch_geometric.nn.aggr import Set2Set

    class _Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers: list = []
            d = n_features
            for h in hidden:
                layers += [nn.Linear(d, h), nn.SiLU(), nn.Dropout(dropout)]
                d = h
            self.atom_mlp = nn.Sequential(*layers)
            self.readout = Set2Set(d, processing_steps=set2set_steps)
            layers = []
            d2 = 2 * d
            for h in dense:
                layers += [nn.Linear(d2, h), nn.SiLU(), nn.Dropout(dropout)]
                d2 = h
            layers.append(nn.Linear(d2, 1))
            self.head = nn.Sequential(*layers)

        def embed(self, x, index, n_sets: int):
            return self.readout(self.atom_mlp(x), index, dim_size=n_sets)

        def forward(self, x, index, n_sets: int):
            return self.head(self.embed(x, index, n_sets)).squeeze(-1)

    return _Net()


def state_to_json(state: dict) -> dict:
    """A torch state dict → JSON-safe dict of {name: {shape, dtype, data(base64 float32)}}."""
    out = {}
    for k, v in state.items():
        arr = v.detach().cpu().numpy().astype(np.float32)
        out[k] = {"shape": list(arr.shape), "dtype": "float32", "data": base64.b64encode(arr.tobytes()).decode()}
    return out


def state_from_json(payload: dict) -> dict:
    """Inverse of :func:`state_to_json` (plain arrays only; nothing is unpickled)."""
    torch = _torch()
    out = {}
    for k, v in payload.items():
        if v.get("dtype") != "float32":
            raise InputError(f"weight {k!r} has dtype {v.get('dtype')!r}; only float32 is supported")
        arr = np.frombuffer(base64.b64decode(v["data"]), dtype=np.float32).reshape(v["shape"])
        out[k] = torch.from_numpy(arr.copy())
    return out


class AtomSetsClassifier(ClassifierMixin, BaseEstimator):
    """Binary AtomSets classifier on sets of atom features (scikit-learn API).

    Parameters
    ----------
    hidden: widths of the per-atom dense layers before set2set.
    set2set_steps: set2set processing steps (readout = 2 × last hidden width).
    dense: widths of the dense layers after the readout.
    dropout: dropout probability after each dense layer (Methods 4.4).
    l2: decoupled weight decay (L2 regularisation, Methods 4.4).
    lr: peak learning rate of the triangular-2 cyclical schedule (base = lr / 10).
    epochs: training epochs (full passes).
    batch_size: structures per minibatch.
    class_weight: ``"balanced"`` weights the BCE by inverse class frequency, or ``None``.
    random_state: seed for initialisation, shuffling and dropout.
    """

    def __init__(self, hidden=(64, 64), set2set_steps: int = 3, dense=(64,), dropout: float = 0.1,
                 l2: float = 1e-4, lr: float = 3e-3, epochs: int = 200, batch_size: int = 32,
                 class_weight: str | None = "balanced", random_state: int = 0):
        self.hidden = hidden
        self.set2set_steps = set2set_steps
        self.dense = dense
        self.dropout = dropout
        self.l2 = l2
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.class_weight = class_weight
        self.random_state = random_state

    def citations(self) -> list[str]:
        return list(CITATIONS)

    def _build(self, n_features: int):
        return AtomSetsNet(n_features, tuple(self.hidden), int(self.set2set_steps), tuple(self.dense), float(self.dropout))

    def fit(self, X: Sequence[np.ndarray], y, eval_set=None, callback=None) -> "AtomSetsClassifier":
        """Train on atom-feature matrices ``X`` and binary labels ``y`` (1 = superionic).

        ``eval_set=(X_val, y_val)`` records ``history_`` (validation AUC-PR and MCC per epoch);
        ``callback(epoch, metrics) -> bool`` may stop training early by returning True (pruning).
        """
        torch = _torch()
        y = np.asarray(y, dtype=np.float32).ravel()
        if len(X) != len(y):
            raise ParameterError(f"X has {len(X)} structures but y has {len(y)} labels")
        if len(set(y.tolist())) < 2:
            raise ParameterError("AtomSets training needs both classes in y")
        if self.epochs < 1 or self.batch_size < 1:
            raise ParameterError("epochs and batch_size must be ≥ 1")
        self.n_features_in_ = int(np.asarray(X[0]).shape[1])
        self.classes_ = np.array([0, 1])
        torch.manual_seed(int(self.random_state))
        rng = np.random.default_rng(int(self.random_state))
        net = self._build(self.n_features_in_)
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.l2)
        n = len(X)
        steps_per_epoch = int(np.ceil(n / self.batch_size))
        sched = torch.optim.lr_scheduler.CyclicLR(
            opt, base_lr=self.lr / 10, max_lr=self.lr, step_size_up=max(1, 10 * steps_per_epoch),
            mode="triangular2", cycle_momentum=False,
        )
        pos = float(y.mean())
        w_pos, w_neg = (0.5 / pos, 0.5 / (1 - pos)) if self.class_weight == "balanced" else (1.0, 1.0)
        mats = [np.asarray(m, dtype=np.float32) for m in X]
        self.history_ = []
        for epoch in range(int(self.epochs)):
            net.train()
            order = rng.permutation(n)
            total = 0.0
            for b in range(steps_per_epoch):
                idx = order[b * self.batch_size:(b + 1) * self.batch_size]
                x, index = stack_sets([mats[i] for i in idx])
                target = torch.from_numpy(y[idx])
                logits = net(x, index, len(idx))
                weight = target * w_pos + (1 - target) * w_neg
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, weight=weight)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach()) * len(idx)
            rec = {"epoch": epoch + 1, "loss": total / n}
            if eval_set is not None:
                from sicnb.classify.validation import classification_metrics

                self.net_ = net
                p = self.predict_proba(eval_set[0])[:, 1]
                rec.update(classification_metrics(eval_set[1], p))
            self.history_.append(rec)
            if callback is not None and callback(epoch + 1, rec):
                break
        net.eval()
        self.net_ = net
        return self

    def _check(self):
        if not hasattr(self, "net_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("AtomSetsClassifier is not fitted; call fit() or load a model")

    def decision_function(self, X: Sequence[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Logits, one per structure."""
        torch = _torch()
        self._check()
        self.net_.eval()
        out = []
        with torch.no_grad():
            for b in range(0, len(X), batch_size):
                chunk = X[b:b + batch_size]
                x, index = stack_sets(chunk)
                if x.shape[1] != self.n_features_in_:
                    raise InputError(f"atom features have {x.shape[1]} columns; the model expects {self.n_features_in_}")
                out.append(self.net_(x, index, len(chunk)).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def predict_proba(self, X: Sequence[np.ndarray]) -> np.ndarray:
        """(n, 2) probabilities; column 1 = P_SI."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X).astype(np.float64)))
        return np.stack([1 - p, p], axis=1)

    def predict(self, X: Sequence[np.ndarray], threshold: float = 0.5) -> np.ndarray:
        """1 (superionic) where P_SI ≥ ``threshold`` (paper: 0.5)."""
        return (self.predict_proba(X)[:, 1] >= threshold).astype(int)

    # -- safe persistence ---------------------------------------------------------------------
    def to_json(self) -> dict:
        """Hyperparameters + weights as a JSON-safe dict."""
        self._check()
        return {"params": _jsonable_params(self.get_params()), "n_features_in": self.n_features_in_,
                "state": state_to_json(self.net_.state_dict())}

    @classmethod
    def from_json(cls, payload: dict) -> "AtomSetsClassifier":
        params = dict(payload["params"])
        for k in ("hidden", "dense"):
            params[k] = tuple(params[k])
        clf = cls(**params)
        clf.n_features_in_ = int(payload["n_features_in"])
        clf.classes_ = np.array([0, 1])
        net = clf._build(clf.n_features_in_)
        net.load_state_dict(state_from_json(payload["state"]))
        net.eval()
        clf.net_ = net
        return clf

    def __deepcopy__(self, memo):
        new = self.__class__(**self.get_params())
        for k, v in self.__dict__.items():
            if k.endswith("_"):
                setattr(new, k, copy.deepcopy(v, memo))
        return new


def _jsonable_params(params: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}
