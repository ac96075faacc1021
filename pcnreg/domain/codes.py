"""Formats of the national codes. Codes are strings everywhere (leading zeros matter: 04K)."""
from __future__ import annotations

import re

PRACTICE_CODE = re.compile(r"^[A-Z][0-9]{5}$")          # GP practice ODS code, e.g. C84001
PCN_CODE = re.compile(r"^U[0-9]{5}$")                   # PCN ODS code, e.g. U53963
COMMISSIONER_CODE = re.compile(r"^[0-9A-Z]{3}(?:[0-9A-Z]{2})?$")  # CCG / sub-ICB location ODS code: 04K, 02Q, D9Y0V
SYSTEM_ODS_CODE = re.compile(r"^Q[0-9A-Z]{2}$")          # ICB / STP ODS code, e.g. QT1, QK1
SYSTEM_ONS_CODE = re.compile(r"^E54[0-9]{6}$")          # ONS code of an STP/ICS or ICB, e.g. E54000014
GSS_CODE = re.compile(r"^[EWSN][0-9]{8}$")              # ONS GSS code, e.g. E07000170


def is_practice_code(value: str) -> bool:
    return bool(PRACTICE_CODE.match(value))


def is_pcn_code(value: str) -> bool:
    return bool(PCN_CODE.match(value))


def split_codes(values) -> list[str]:
    """Practice codes from checkboxes or typed in (commas or spaces between), upper case, once each."""
    codes = [c.upper() for v in values or [] for c in re.split(r"[\s,;]+", v or "") if c]
    return list(dict.fromkeys(codes))
