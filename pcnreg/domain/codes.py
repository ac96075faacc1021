"""Formats of the national codes. Codes are strings everywhere (leading zeros matter: 04K)."""
from __future__ import annotations

import re

PRACTICE_CODE = re.compile(r"^[A-Z][0-9]{5}$")          # GP practice ODS code, e.g. C84001
PCN_CODE = re.compile(r"^U[0-9]{5}$")                   # PCN ODS code, e.g. U53963
COMMISSIONER_CODE = re.compile(r"^[0-9A-Z]{3}$")        # CCG / sub-ICB ODS code, e.g. 04K, 02Q
GSS_CODE = re.compile(r"^[EWSN][0-9]{8}$")              # ONS GSS code, e.g. E07000170


def is_practice_code(value: str) -> bool:
    return bool(PRACTICE_CODE.match(value))


def is_pcn_code(value: str) -> bool:
    return bool(PCN_CODE.match(value))


def is_commissioner_code(value: str) -> bool:
    return bool(COMMISSIONER_CODE.match(value))


def is_gss_code(value: str) -> bool:
    return bool(GSS_CODE.match(value))
