"""The contract-year files shipped in ``pcnreg/contract_years`` (see ``domain.contract_years``)."""
from __future__ import annotations

import json
from pathlib import Path

from ..domain.contract_years import ContractYear, ContractYearError, check_year, file_name, parse

FOLDER = Path(__file__).resolve().parents[1] / "contract_years"


def available() -> list[str]:
    """The years there is a file for, oldest first (``2019/20``...)."""
    return sorted(p.stem.replace("-", "/") for p in FOLDER.glob("*.json"))


def load(year: str, folder: Path | None = None) -> ContractYear:
    """The contract year ``year``; ``ValueError`` for a year without a file or a bad file."""
    year = check_year(year)
    path = (folder or FOLDER) / file_name(year)
    if not path.is_file():
        raise ValueError(f"there is no contract-year file for {year} (known years: {', '.join(available())}); "
                         f"add {file_name(year)} to pcnreg/contract_years")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ContractYearError(path.name, [f"not valid JSON: {exc}"]) from None
    spec = parse(data, path.name)
    if spec.year != year:
        raise ContractYearError(path.name, [f"year: the file says {spec.year}, its name {year}"])
    return spec
