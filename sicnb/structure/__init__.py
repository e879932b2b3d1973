"""Structure utilities: mobile/framework sublattices, symmetry-distinct mobile sites, oxidation states,
simplifications (CAMN, CAN, AM, A, their -40 forms, CAMNS/CANS) and disorder handling."""
from sicnb.structure.approximant import majority_ordered
from sicnb.structure.oxidation import assign_oxidation_states, majority_species, site_charge_signs
from sicnb.structure.simplify import ALIASES, SCHEMES, simplify
from sicnb.structure.sublattices import (
    MobileSite,
    check_mobile_ion,
    framework,
    has_mobile_ion,
    min_interatomic_distance,
    mobile_sites,
    mobile_sublattice,
)

__all__ = [
    "MobileSite", "mobile_sublattice", "framework", "mobile_sites", "has_mobile_ion", "check_mobile_ion",
    "min_interatomic_distance", "majority_ordered", "assign_oxidation_states", "majority_species", "site_charge_signs", "simplify", "SCHEMES", "ALIASES",
]
