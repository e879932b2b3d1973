"""scikit-learn transformers over structures for the Table 2.1 descriptors (cached through ``pmap``).

>>> from sicnb.cluster import SOAPDescriptor
>>> soap = SOAPDescriptor(simplification="CAN", r_cut=4.0, n_max=4, l_max=3, average="outer")
>>> X = soap.fit_transform(dataset)          # Dataset, {id: Structure}, records or structures
>>> soap.get_feature_names_out()[:3]

``transform`` returns a float array; rows of structures the descriptor could not describe are NaN
and :meth:`StructureDescriptor.transform_table` gives the same numbers as a DataFrame with the
``error`` reason. Columns a structure lacks (species pair, bond type, eigenvalue index) are 0.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from sicnb.cluster.descriptors import DESCRIPTORS, _spec, descriptor_row, natural_key
from sicnb.errors import ParameterError

__all__ = ["StructureDescriptor", "SOAPDescriptor", "descriptor_table"]

_META = ("error", "method", "params", "sicnb_version")


def descriptor_table(
    items,
    descriptor: str = "soap",
    simplification: str = "CAN",
    options: dict[str, Any] | None = None,
    mobile_ion: str = "Li",
    min_occupancy: float = 0.5,
    n_workers: int = 1,
    cache_dir=None,
    scheduler=None,
    progress: bool = False,
    columns: list[str] | None = None,
) -> pd.DataFrame:
    """Descriptor vectors of many structures as an id-indexed table (features + ``error``), via ``pmap``.

    Absent columns of successful rows are filled with 0 (see module doc); failed rows keep NaN and
    their ``error``. ``columns`` fixes the column set (a fitted transformer's features).
    """
    from sicnb.parallel import pmap

    _spec(descriptor)
    params = {"descriptor": descriptor, "simplification": simplification, "mobile_ion": mobile_ion,
              "min_occupancy": float(min_occupancy), **dict(options or {})}
    raw = pmap(descriptor_row, items, params, cache_dir=cache_dir, n_workers=n_workers, scheduler=scheduler,
               progress=progress, desc=f"{descriptor}-{simplification}")
    feats = raw.drop(columns=[c for c in _META if c in raw.columns])
    cols = columns if columns is not None else sorted(feats.columns, key=natural_key)
    feats = feats.reindex(columns=cols).astype(float)
    ok = (raw["error"].fillna("") == "").to_numpy()
    feats.loc[ok] = feats.loc[ok].fillna(0.0)
    feats["error"] = raw["error"].fillna("")
    feats.attrs.update(raw.attrs)
    return feats


class StructureDescriptor(TransformerMixin, BaseEstimator):
    """Any Table 2.1 descriptor on any simplification as a transformer (thesis §2.2).

    Parameters
    ----------
    descriptor: a key of :data:`sicnb.cluster.descriptors.DESCRIPTORS` (``soap``, ``mxrd``, ``density``, ...).
    simplification: ``none``, ``CAMN``, ``CAN``, ``AM``, ``A`` or their ``-40`` forms.
    options: descriptor hyperparameters (Table A.1), e.g. ``{"pattern_length": 451}`` for mXRD.
    mobile_ion: the mobile species (default Li).
    min_occupancy: sites below this total occupancy are dropped from the ordered approximant.
    n_workers, cache_dir, progress: passed to :func:`sicnb.parallel.pmap`.
    """

    def __init__(self, descriptor: str = "soap", simplification: str = "CAN", options: dict | None = None,
                 mobile_ion: str = "Li", min_occupancy: float = 0.5, n_workers: int = 1, cache_dir=None,
                 progress: bool = False):
        self.descriptor = descriptor
        self.simplification = simplification
        self.options = options
        self.mobile_ion = mobile_ion
        self.min_occupancy = min_occupancy
        self.n_workers = n_workers
        self.cache_dir = cache_dir
        self.progress = progress

    # the hyperparameters handed to descriptor_row
    def _options(self) -> dict[str, Any]:
        return dict(self.options or {})

    def _table(self, X, columns=None) -> pd.DataFrame:
        return descriptor_table(X, self.descriptor, self.simplification, self._options(), self.mobile_ion,
                                self.min_occupancy, self.n_workers, self.cache_dir, progress=self.progress, columns=columns)

    def fit(self, X, y=None):
        """Learn the column set (species pairs, bond types, eigenvalue count) from ``X``."""
        table = self._table(X)
        self.feature_names_out_ = np.asarray([c for c in table.columns if c != "error"], dtype=object)
        if len(self.feature_names_out_) == 0:
            raise ParameterError(
                f"{self.descriptor}-{self.simplification}: no structure could be described; first errors: "
                f"{table['error'][table['error'] != ''].head(3).tolist()}"
            )
        self.n_features_out_ = len(self.feature_names_out_)
        self.fit_errors_ = table["error"][table["error"] != ""]
        return self

    def transform_table(self, X) -> pd.DataFrame:
        """Features (fitted columns) plus ``error``, indexed by id."""
        self._check_fitted()
        return self._table(X, columns=list(self.feature_names_out_))

    def transform(self, X) -> np.ndarray:
        table = self.transform_table(X)
        return table.drop(columns="error").to_numpy(dtype=float)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        self._check_fitted()
        return self.feature_names_out_.copy()

    def get_number_of_features(self) -> int:
        self._check_fitted()
        return int(self.n_features_out_)

    def citations(self) -> list[str]:
        """References: the descriptor and the screening paper it is used in."""
        return [DESCRIPTORS[self.descriptor].citation,
                "Laskowski, McHaffie & See, Energy Environ. Sci. 16, 1264 (2023)"]

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_out_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(structures) first")


class SOAPDescriptor(StructureDescriptor):
    """Site-averaged SOAP (dscribe) on a simplification; ``r_cut``, ``sigma`` in Å (thesis Table A.1)."""

    def __init__(self, simplification: str = "CAN", r_cut: float = 4.0, n_max: int = 4, l_max: int = 3,
                 sigma: float = 1.0, average: str = "outer", mobile_ion: str = "Li", min_occupancy: float = 0.5,
                 n_workers: int = 1, cache_dir=None, progress: bool = False):
        self.simplification = simplification
        self.r_cut = r_cut
        self.n_max = n_max
        self.l_max = l_max
        self.sigma = sigma
        self.average = average
        self.mobile_ion = mobile_ion
        self.min_occupancy = min_occupancy
        self.n_workers = n_workers
        self.cache_dir = cache_dir
        self.progress = progress

    descriptor = "soap"

    def _options(self) -> dict[str, Any]:
        return {"r_cut": float(self.r_cut), "n_max": int(self.n_max), "l_max": int(self.l_max),
                "sigma": float(self.sigma), "average": self.average}
