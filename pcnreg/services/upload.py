"""The import page's one service call: dispatch an uploaded file to its importer."""
from __future__ import annotations

from ..importers.csvio import ImportFailed, ImportProblem
from . import configuration, imports, rounds


def round_choices() -> list[tuple[str, str]]:
    return [(str(r.id), r.name) for r in rounds.list_rounds()]


def import_upload(kind: str, data: bytes, *, source: str, commissioners: list[str], round_id: str | None,
                  author: str, reason: str, replace: bool = False):
    """Run the import of ``kind``; returns its summary (with ``lines()``), raises ImportFailed."""
    if kind == "practices":
        return imports.import_practices(data, source=source, commissioner_codes=commissioners or None)
    if kind == "list-sizes":
        return imports.import_list_sizes(data, source=source)
    if kind == "configuration":
        if not round_id or not (round_id.isascii() and round_id.isdigit() and len(round_id) <= 10):
            raise ImportFailed([ImportProblem(None, "round", "Choose the round the configuration is for")])
        try:
            rounds.get_round(int(round_id))
        except rounds.NotFound as exc:
            raise ImportFailed([ImportProblem(None, "round", str(exc))]) from exc
        return configuration.import_configuration(round_name=round_id, data=data, author=author, reason=reason,
                                                  source=source, replace=replace)
    raise ImportFailed([ImportProblem(None, "kind", f"Unknown kind of file {kind!r}")])


# --- a configuration import waiting for its confirmation ------------------------------------------------
# The browser cannot send a file again, so a refused configuration file is kept in the instance
# folder (``pending-imports/``, mode 0600) under a random token until confirmed (or an hour passes).

PENDING_HOURS = 1


def _pending_dir():
    from pathlib import Path

    from flask import current_app

    return Path(current_app.instance_path) / "pending-imports"


def _valid_token(token: str) -> bool:
    return isinstance(token, str) and len(token) == 32 and all(c in "0123456789abcdef" for c in token)


def keep_pending(data: bytes, *, round_id: str, source: str) -> str:
    """Keep a configuration file awaiting confirmation; returns its token."""
    import json
    import os
    import secrets
    import time

    folder = _pending_dir()
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*"):                    # forget files never confirmed
        try:
            if now - old.stat().st_mtime > PENDING_HOURS * 3600:
                old.unlink()
        except OSError:
            pass
    token = secrets.token_hex(16)
    for suffix, content in ((".csv", data), (".json", json.dumps({"round": round_id, "source": source}).encode())):
        fd = os.open(folder / f"{token}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
    return token


def take_pending(token: str, round_id: str) -> tuple[bytes, str] | None:
    """The kept file of ``token`` for ``round_id`` and its name (None: unknown, expired or another round)."""
    import json
    import time

    if not _valid_token(token):
        return None
    folder = _pending_dir()
    data_file, meta_file = folder / f"{token}.csv", folder / f"{token}.json"
    try:
        if time.time() - data_file.stat().st_mtime > PENDING_HOURS * 3600:
            return None
        meta = json.loads(meta_file.read_text())
        if meta.get("round") != round_id:
            return None
        return data_file.read_bytes(), str(meta.get("source") or "upload")
    except (OSError, ValueError):
        return None


def drop_pending(token: str) -> None:
    if _valid_token(token):
        for suffix in (".csv", ".json"):
            try:
                (_pending_dir() / f"{token}{suffix}").unlink()
            except OSError:
                pass
