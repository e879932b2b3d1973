"""Materials Project through ``mp-api`` (needs ``MP_API_KEY``; the key is never logged or stored)."""
from __future__ import annotations

import os

from sicnb.data.records import Dataset, Record
from sicnb.errors import DataUnavailableError, require

__all__ = ["materials_project", "mp_entries"]


def _endpoint(endpoint: str | None) -> dict:
    """``endpoint=`` for MPRester: the argument, else ``MP_API_ENDPOINT`` read now (mp-api reads it only at import)."""
    url = endpoint or os.environ.get("MP_API_ENDPOINT")
    return {"endpoint": url} if url else {}


def _key(api_key: str | None) -> str:
    key = api_key or os.environ.get("MP_API_KEY")
    if not key:
        raise DataUnavailableError(
            "Materials Project queries need an API key: set the MP_API_KEY environment variable "
            "(https://next-gen.materialsproject.org/api) or pass api_key=..."
        )
    return key


def materials_project(
    elements: tuple[str, ...] = ("Li",),
    num_elements: tuple[int, int] | None = (2, 4),
    energy_above_hull_max_ev: float | None = 0.1,
    band_gap_min_ev: float | None = None,
    max_structures: int | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
) -> Dataset:
    """Structures containing ``elements`` from the Materials Project summary endpoint.

    Labels: ``energy_above_hull`` and ``formation_energy_per_atom`` (eV/atom), ``band_gap`` (eV).
    ``endpoint`` (default ``$MP_API_ENDPOINT``, else mp-api's default) selects another API server.
    """
    mp_api = require("mp_api.client", extra="mp", pip_name="mp-api")
    fields = ["material_id", "structure", "energy_above_hull", "formation_energy_per_atom", "band_gap"]
    kwargs = {"elements": list(elements), "fields": fields}
    if num_elements:
        kwargs["num_elements"] = num_elements
    if energy_above_hull_max_ev is not None:
        kwargs["energy_above_hull"] = (0, energy_above_hull_max_ev)
    if band_gap_min_ev is not None:
        kwargs["band_gap"] = (band_gap_min_ev, None)
    failure = None
    try:
        with mp_api.MPRester(_key(api_key), **_endpoint(endpoint)) as mpr:
            docs = mpr.materials.summary.search(**kwargs)
    except DataUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - never echo the key (a server may echo it back)
        failure = f"Materials Project query failed: {type(exc).__name__}"
    if failure:  # raised outside the handler so no chained exception (which may hold the key) is kept
        raise DataUnavailableError(failure)
    records = []
    for d in docs[:max_structures] if max_structures else docs:
        records.append(
            Record(
                id=str(d.material_id),
                structure=d.structure,
                labels={
                    "energy_above_hull": d.energy_above_hull,
                    "formation_energy_per_atom": d.formation_energy_per_atom,
                    "band_gap": d.band_gap,
                },
                provenance={"source": "materials_project", "material_id": str(d.material_id)},
            )
        )
    return Dataset(records, name="materials_project")


def mp_entries(chemsys: str | list[str], api_key: str | None = None, endpoint: str | None = None):
    """``ComputedStructureEntry`` list for a chemical system (for phase diagrams), MP2020-compatible."""
    mp_api = require("mp_api.client", extra="mp", pip_name="mp-api")
    failure = None
    try:
        with mp_api.MPRester(_key(api_key), **_endpoint(endpoint)) as mpr:
            return mpr.get_entries_in_chemsys(chemsys)
    except DataUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - never echo the key
        failure = f"Materials Project entry query for {chemsys} failed: {type(exc).__name__}"
    raise DataUnavailableError(failure)
