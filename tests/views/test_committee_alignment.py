"""The committee's meeting page, map and pack show the neighbourhood alignment of the PCNs on the
agenda (issue #14). The demo meeting (Newark and Nottingham City PCN 8 on the agenda) gets a small
LSOA registrations file and neighbourhoods written here, so each PCN's share is known by hand."""
from __future__ import annotations

import io

from test_committee_pages import make_demo, text

from pcnreg.services import neighbourhoods as nb
from pcnreg.services import rounds as rounds_svc

# a row of the alignment table as read (a responsive table repeats each column's heading in its cells)
ROW = "Best-matching neighbourhood {} Kind {}-neighbourhood Share inside it {}% Threshold {}% Finding {}"
HEADER = "PUBLICATION,EXTRACT_DATE,PRACTICE_CODE,PRACTICE_NAME,LSOA_CODE,SEX,NUMBER_OF_PATIENTS\n"


def _setup(app, geodata=None):
    demo = make_demo(app, geodata)
    rnd = demo["rnd"]
    data = rounds_svc.build_configuration(rnd)
    newark = data.pcn_data(str(demo["newark"].id)).members
    low = data.pcn_data(str(demo["low"].id)).members
    rows = []
    for code in newark:           # Newark: 60 of every 100 patients in A, 40 in B -> 60% in its best match
        rows += [f"GP,2025-10-01,{code},X,E01028100,ALL,60\n", f"GP,2025-10-01,{code},X,E01028101,ALL,40\n"]
    for code in low:              # PCN 8: all in C -> 100%
        rows.append(f"GP,2025-10-01,{code},X,E01033400,ALL,100\n")
    nb.import_lsoa_registrations(rnd, io.BytesIO((HEADER + "".join(rows)).encode()), source="regs.csv")
    layout = ("lsoa_code,neighbourhood,kind\nE01028100,Newark and Sherwood,single\nE01028101,Mansfield,single\n"
              "E01033400,Nottingham City,multi\n")
    nb.import_neighbourhoods(rnd, layout.encode(), source="nb.csv", max_bytes=1 << 20)
    return demo


def test_meeting_page_and_pack_show_the_agenda_alignment(app, db, demo_round, client):
    demo = _setup(app)
    page = client.get(demo["base"])
    assert page.status_code == 200
    body = text(page)
    section = body[body.index("Neighbourhood alignment of the agenda's PCNs"):body.index("Decisions")]
    assert (f"PCN Newark {ROW.format('Newark and Sherwood', 'Single', '60.0', '80', 'Below the threshold')}"
            f" Measured by registered patients by LSOA PCN {demo['low'].name} "
            f"{ROW.format('Nottingham City', 'Multi', '100.0', '80', 'Aligned')}") in section

    pack = text(client.get(f"{demo['base']}/pack"))
    first = pack[pack.index("1. Newark"):pack.index(f"2. {demo['low'].name}")]
    assert "Neighbourhood alignment of Newark now" in first
    assert ROW.format("Newark and Sherwood", "Single", "60.0", "80", "Below the threshold") in first
    start = pack.index(f"2. {demo['low'].name}")
    second = pack[start:pack.index("Minutes", start)]
    assert ROW.format("Nottingham City", "Multi", "100.0", "80", "Aligned") in second

    # the round's threshold is read, not assumed
    nb.save_settings(demo["rnd"], nb.cm.Settings(alignment_threshold=0.55))
    again = text(client.get(demo["base"]))
    assert ROW.format("Newark and Sherwood", "Single", "60.0", "55", "Aligned") in again


def test_no_neighbourhoods_no_alignment_table(app, db, demo_round, client):
    demo = make_demo(app)
    body = text(client.get(demo["base"]))
    assert "No alignment to show: the round has no neighbourhoods" in body
    assert "Neighbourhood alignment of" not in text(client.get(f"{demo['base']}/pack"))


def test_the_meeting_map_draws_neighbourhoods_and_alignment(app, db, geodata, demo_round, client):
    from sqlalchemy import select

    from pcnreg.extensions import db as _db
    from pcnreg.models import Block

    demo = make_demo(app, geodata)
    rnd = demo["rnd"]
    blocks = sorted(_db.session.scalars(select(Block.code).where(Block.system_id == rnd.system_id)))
    layout = "lsoa_code,neighbourhood,kind\n" + "".join(f"{c},All of it,multi\n" for c in blocks)
    nb.import_neighbourhoods(rnd, layout.encode(), source="nb.csv", max_bytes=1 << 22)
    html = client.get(f"{demo['base']}/map").get_data(as_text=True)
    assert "Neighbourhood alignment" in html and "Dashed blue line: neighbourhoods" in html
    assert "100.0% in All of it (at or above the 80% threshold)" in html
