"""The import page's one service call: dispatch an uploaded file to its importer."""
from __future__ import annotations

from ..importers.csvio import ImportFailed, ImportProblem
from . import configuration, imports, rounds


def round_choices() -> list[tuple[str, str]]:
    return [(str(r.id), r.name) for r in rounds.list_rounds()]


def import_upload(kind: str, data: bytes, *, source: str, commissioners: list[str], round_id: str | None,
                  author: str, reason: str):
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
                                                  source=source)
    raise ImportFailed([ImportProblem(None, "kind", f"Unknown kind of file {kind!r}")])
