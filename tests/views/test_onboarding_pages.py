"""Onboarding in the browser's pages: the organisation lookup, the systems of its list, the files
from the data folder or uploaded, the job run by the task queue (immediate in tests) and its
summary; refusals and who may do it."""
from __future__ import annotations

import re

import pytest
from conftest import GEODATA
from sqlalchemy import func, select

from pcnreg.models import Job, Membership, RegistrationRound, System

pytestmark = pytest.mark.skipif(not (GEODATA / "ePCN-2019-12.xlsx").is_file(), reason="needs ../shared/geodata")

FILES_2019 = {"areas": "lsoa11-ccg19-lad19-lookup-england.csv", "practices": "epraccur-2019-12.csv",
              "list_sizes": "gp-reg-pat-prac-all-2021-06.csv", "configuration": "ePCN-2019-12.xlsx"}


@pytest.fixture
def folder_app(app):
    app.config["GEODATA_PATH"] = GEODATA
    return app


def test_the_steps_from_the_data_folder_to_the_summary(folder_app, db, client):
    page = client.get("/onboard").get_data(as_text=True)
    assert "ccg19-stp19-lookup-england.csv" in page
    step = client.post("/onboard", data={"organisations": "ccg19-stp19-lookup-england.csv"})
    assert step.status_code == 302 and "/onboard/systems?organisations=ccg19-stp19-lookup-england.csv" in step.location
    systems = client.get(step.location).get_data(as_text=True)
    assert "Leicester, Leicestershire and Rutland (E54000015)" in systems and "All 42 systems" in systems
    done = client.post("/onboard/systems", data={"organisations": "ccg19-stp19-lookup-england.csv",
                                                 "systems": "E54000015", "year": "2019/20", "round": "LLR 2019/20",
                                                 **FILES_2019})
    assert done.status_code == 302
    job_id = int(re.search(r"/jobs/(\d+)", done.location).group(1))
    job = db.session.get(Job, job_id)
    assert job.state == "done" and job.done == job.total == 1
    page = client.get(done.location).get_data(as_text=True)
    assert "Leicester, Leicestershire and Rutland (E54000015), round &#39;LLR 2019/20&#39;" in page
    rnd = db.session.scalar(select(RegistrationRound).where(RegistrationRound.name == "LLR 2019/20"))
    assert db.session.scalar(select(func.count()).select_from(Membership).where(Membership.round_id == rnd.id)) > 100
    # the jobs page lists it, linked to its page
    listed = client.get("/jobs").get_data(as_text=True)
    assert f'<a href="/jobs/{job_id}">Job {job_id}</a>' in listed and ">done<" in " ".join(listed.split()).replace("> ", ">").replace(" <", "<")


def test_an_uploaded_file_of_the_wrong_era_fails_the_job_and_writes_nothing(folder_app, db, client):
    with open(GEODATA / "gp-reg-pat-prac-map-2026-01.csv", "rb") as fh:
        done = client.post("/onboard/systems", content_type="multipart/form-data", data={
            "organisations": "ccg19-stp19-lookup-england.csv", "systems": "E54000015", "year": "2019/20",
            "round": "LLR", **{k: v for k, v in FILES_2019.items() if k != "configuration"},
            "configuration_upload": (fh, "map.csv")})
    assert done.status_code == 302
    page = client.get(done.location).get_data(as_text=True)
    assert "The files were refused" in page and "files of different eras are mixed" in page
    assert db.session.scalar(select(func.count()).select_from(System)) == 0


@pytest.mark.parametrize("change, message", [
    ({"systems": ""}, "Choose one or more systems"),
    ({"round": ""}, "Enter a name for the round"),
    ({"practices": ""}, "Choose the practices (ODS epraccur), or upload it"),
    ({"year": "1999/00"}, "Not a valid choice"),
])
def test_a_missing_choice_is_named_and_nothing_starts(folder_app, db, client, change, message):
    data = {"organisations": "ccg19-stp19-lookup-england.csv", "systems": "E54000015", "year": "2019/20",
            "round": "LLR", **FILES_2019, **change}
    response = client.post("/onboard/systems", data=data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_file_outside_the_folder_and_uploads_is_never_read(folder_app, client):
    response = client.get("/onboard/systems?organisations=/etc/passwd")
    assert response.status_code == 302 and response.location.endswith("/onboard")
    response = client.get("/onboard/systems?organisations=../shared/geodata/ccg19-stp19-lookup-england.csv")
    assert response.status_code == 302


def test_only_a_system_administrator_onboards(folder_app, client_as, demo_round):
    for role, scope in (("commissioner", "system:E54000014"), ("viewer", "all")):
        assert client_as(role, scope).get("/onboard").status_code == 403
