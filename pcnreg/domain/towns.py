"""Post towns of postcode districts, for searching practices by town (plain data, no Flask).

A practice is found by a town when the town's name is in the post town of its postcode
district or in the name of its local authority (when geodata gives it one). The table covers
the postcode districts of Nottingham and Nottinghamshire and the districts around them (Royal
Mail post towns); a district missing here is simply matched by its local authority only.
"""
from __future__ import annotations

POST_TOWNS: dict[str, str] = {
    **{f"NG{n}": "Nottingham" for n in range(1, 17)},
    "NG17": "Sutton-in-Ashfield Kirkby-in-Ashfield", "NG18": "Mansfield", "NG19": "Mansfield",
    "NG20": "Mansfield", "NG21": "Mansfield", "NG22": "Newark", "NG23": "Newark", "NG24": "Newark",
    "NG25": "Southwell", "NG31": "Grantham", "NG32": "Grantham", "NG33": "Grantham", "NG34": "Sleaford",
    "S80": "Worksop", "S81": "Worksop", "DN10": "Doncaster", "DN22": "Retford", "LE12": "Loughborough",
    "DE7": "Ilkeston", "DE72": "Derby", "DE74": "Derby",
}


def postcode_district(postcode: str | None) -> str:
    """"NG18 1AB" -> "NG18" (the outward code); "" when there is none."""
    compact = "".join((postcode or "").split()).upper()
    return compact[:-3] if len(compact) > 4 else ""


def town_of(postcode: str | None) -> str:
    """The post town of a postcode's district ("" when not known)."""
    return POST_TOWNS.get(postcode_district(postcode), "")
