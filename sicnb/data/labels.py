"""Label-only tables: LASKOWSKI2023 and the Liverpool Ionics Dataset (compositions, no structures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sicnb.data.paths import cache_dir, data_dir, download
from sicnb.errors import DataUnavailableError

__all__ = ["laskowski2023", "liverpool_ionics"]

LASKOWSKI_URL = "https://raw.githubusercontent.com/FALL-ML/materials-discovery/main/data/digitized_data_for_SSEs.csv"
LIVERPOOL_URL = "https://raw.githubusercontent.com/lrcfmd/LiIonDatabase/main/LiIonDatabase.csv"


def _find(sub: str, fname: str, explicit, url: str) -> Path:
    base = data_dir(explicit)
    if base is not None:
        for c in (base / sub / fname, base / fname):
            if c.exists():
                return c
        if explicit is not None:
            raise DataUnavailableError(f"{fname} not found under {base} (expected {base / sub / fname}).")
    return download(url, cache_dir(sub) / fname)


def _censoring(cell) -> tuple[str, float]:
    """("upper"/"lower", log10 bound) of a censored conductivity cell such as ``"<1E-10"``; ("", nan) otherwise."""
    from sicnb.data.obelix import parse_conductivity

    text = str(cell).strip().replace("\u2212", "-")
    if not text or text[0] not in "<>":
        return "", float("nan")
    try:
        return parse_conductivity(text)[::-1]
    except Exception:  # noqa: BLE001 - an unreadable bound is simply not a label
        return "", float("nan")


def laskowski2023(data_dir: str | Path | None = None) -> pd.DataFrame:
    """LASKOWSKI2023 room-temperature Li conductivities (Laskowski, McHaffie & See, EES 16, 1264 (2023)).

    One row per published entry (duplicates per ICSD entry kept; ``n_duplicates`` counts them),
    columns ``formula``, ``sigma_S_cm``, ``log10_sigma`` (log10 S/cm), ``Ea_eV``, ``space_group_number``,
    ``icsd_id``; censored cells (``"<1E-10"``) keep ``log10_sigma`` NaN and give ``sigma_censored`` ("upper"/"lower")
    and ``log10_sigma_bound``. Structures are ICSD (not open): join to OBELiX on ``icsd_id``.
    """
    path = _find("laskowski2023", "digitized_data_for_SSEs.csv", data_dir, LASKOWSKI_URL)
    raw = pd.read_csv(path, encoding="utf-8-sig")
    cols = {c: c.strip() for c in raw.columns}
    raw = raw.rename(columns=cols)
    sig_col = next(c for c in raw.columns if c.startswith("σ") or "S cm" in c)
    sigma = pd.to_numeric(raw[sig_col], errors="coerce")
    df = pd.DataFrame(
        {
            "formula": raw["Structure"].astype(str).str.strip(),
            "sigma_S_cm": sigma,
            "log10_sigma": np.log10(sigma.where(sigma > 0)),
            "Ea_eV": pd.to_numeric(raw.get("Ea (eV)"), errors="coerce"),
            "space_group_number": pd.to_numeric(raw.get("space group"), errors="coerce"),
            "icsd_id": pd.to_numeric(raw.get("ICSD Entry"), errors="coerce"),
        }
    )
    censored = [_censoring(v) for v in raw[sig_col]]
    df["sigma_censored"] = [c for c, _ in censored]  # "upper" for "<1E-10"-style cells (log10_sigma stays NaN there)
    df["log10_sigma_bound"] = [b for _, b in censored]  # log10 of the bound of a censored cell, else NaN
    df["n_duplicates"] = df.groupby("icsd_id")["icsd_id"].transform("size")
    df.index = pd.Index([f"laskowski2023:{i}" for i in range(len(df))], name="id")
    return df


def liverpool_ionics(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The Liverpool Ionics Dataset (Hargreaves et al., 2023): compositions, T (°C), σ (S/cm), log10 σ, family."""
    path = _find("liverpool_ionics", "LiIonDatabase.csv", data_dir, LIVERPOOL_URL)
    raw = pd.read_csv(path, encoding="utf-8-sig")
    df = pd.DataFrame(
        {
            "formula": raw["composition"].astype(str).str.strip(),
            "temperature_C": pd.to_numeric(raw["temperature"], errors="coerce"),
            "sigma_S_cm": pd.to_numeric(raw["target"], errors="coerce"),
            "log10_sigma": pd.to_numeric(raw["log_target"], errors="coerce"),
            "family": raw.get("family"),
            "chemical_family": raw.get("ChemicalFamily"),
            "doi": raw.get("source"),
        }
    )
    df.index = pd.Index([f"liverpool:{i}" for i in raw["ID"]], name="id")
    if df["log10_sigma"].isna().all() and len(df):
        raise DataUnavailableError(f"{path}: no numeric log_target column; is this the Liverpool Ionics CSV?")
    return df
