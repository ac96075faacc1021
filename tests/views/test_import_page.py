"""The import page: uploads run the same transactional importers as the CLI."""
from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from pcnreg.models import ConfigVersion, ListSize, Practice

EPRACCUR_ROW = ('"C84999","NEW TEST SURGERY","Y60","Q74","1 HIGH STREET","","NOTTINGHAM","","","NG1 1AA",'
                '"20190401","","A","B","04K","20190401","","0115 000000","","","","0","","04K","","4",""\n')


def post(client, kind, content: bytes, filename="file.csv", **extra):
    data = {"kind": kind, "file": (io.BytesIO(content), filename), **extra}
    return client.post("/import", data=data, content_type="multipart/form-data")


def count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_page_renders(client, app):
    response = client.get("/import")
    assert response.status_code == 200 and b"Import a file" in response.data


def test_upload_practices(client, app, db, demo_round):
    response = post(client, "practices", EPRACCUR_ROW.encode())
    assert response.status_code == 200, response.data
    assert b"1 added" in response.data
    assert db.session.scalar(select(Practice).where(Practice.code == "C84999")).name == "NEW TEST SURGERY"


def test_bad_upload_names_row_and_field_and_writes_nothing(client, app, db, demo_round):
    before = count(db, Practice), count(db, ListSize)
    bad = EPRACCUR_ROW + EPRACCUR_ROW.replace("C84999", "C84998").replace("20190401", "20190231", 1)
    response = post(client, "practices", bad.encode())
    assert response.status_code == 400
    assert b"row 2" in response.data and b"nothing was changed" in response.data
    assert (count(db, Practice), count(db, ListSize)) == before
    binary = post(client, "list-sizes", b"\x00\x01\x02garbage")
    assert binary.status_code == 400 and (count(db, Practice), count(db, ListSize)) == before


def test_upload_configuration_needs_a_reason_and_records_the_signed_in_user(client, app, db, demo_round):
    content = b"practice_code,pcn_name,place\nC84067,Kirkby,Mid Nottinghamshire\n"
    response = post(client, "configuration", content, round="1")
    assert response.status_code == 400 and b"Enter the reason for the change" in response.data
    assert b"Your name" not in response.data                # who did it is the signed-in user (issue #16)
    assert count(db, ConfigVersion) == 1
    response = post(client, "configuration", content, round="1", author="A Person", reason="Test")
    assert response.status_code == 409 and b"Replace the whole grouping" in response.data   # issue #12
    assert count(db, ConfigVersion) == 1
    token = re.search(r'name="pending" value="([0-9a-f]{32})"', response.get_data(as_text=True)).group(1)
    response = client.post("/import", data={"kind": "configuration", "pending": token, "round": "1",
                                            "author": "A Person", "reason": "Test", "confirm": "replace"},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and b"saved as version 2" in response.data
    assert db.session.scalar(select(ConfigVersion.author).where(ConfigVersion.number == 2)) == "Test Administrator"


def test_missing_file_is_a_form_error(client, app):
    response = client.post("/import", data={"kind": "practices"}, content_type="multipart/form-data")
    assert response.status_code == 400 and b"Choose a file" in response.data


def test_too_large_upload_is_refused_cleanly(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    response = post(client, "practices", b"x" * 4096)
    assert response.status_code == 413
