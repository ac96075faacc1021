"""The audit trail page is paged (100 events a page, newest first) and leads back to its round;
the CSV keeps every event."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from pcnreg.extensions import db as _db
from pcnreg.models import AuditEvent


def seqs(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr class="nhsuk-table__row">\s*<td class="nhsuk-table__cell">(\d+)</td>', html)]


def test_the_trail_of_a_round_is_paged_and_the_csv_has_it_all(story, client):
    history, _ = story
    total = _db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.round_id == history.id))
    assert total > 200                                  # the 2019/20 story: every registration step
    first = client.get(f"/rounds/{history.id}/audit").get_data(as_text=True)
    pages = -(-total // 100)
    assert f"{total} events, newest first: page 1 of {pages}" in first
    assert f'href="/rounds/{history.id}"' in first and "Older events" in first and "Newer events" not in first
    one = seqs(first)
    assert len(one) == 100 and one == sorted(one, reverse=True)
    second = seqs(client.get(f"/rounds/{history.id}/audit?page=2").get_data(as_text=True))
    assert second and max(second) < min(one)
    last = client.get(f"/rounds/{history.id}/audit?page=9999").get_data(as_text=True)
    assert f"page {pages} of {pages}" in last and "Older events" not in last
    assert "page 1 of" in client.get(f"/rounds/{history.id}/audit?page=nonsense").get_data(as_text=True)
    csv_lines = client.get(f"/rounds/{history.id}/audit.csv").get_data(as_text=True).splitlines()
    assert len(csv_lines) == total + 2                  # header, every event, the head


def test_the_trail_names_actions_objects_and_roles_in_words_and_keeps_the_codes(story, client):
    history, _ = story
    event = _db.session.scalar(select(AuditEvent).where(AuditEvent.round_id == history.id,
                                                        AuditEvent.action == "registration.submit").limit(1))
    assert event is not None and event.object_type == "pcn"
    html = client.get(f"/rounds/{history.id}/audit?page=9999").get_data(as_text=True)
    assert "Registration: submit the registration" in html
    assert '<span class="nhsuk-u-display-block nhsuk-u-secondary-text-colour nhsuk-u-font-size-16 ' \
           'pcnreg-audit-code">registration.submit</span>' in html
    assert f"PCN {event.object_id}" in html
    cells = re.findall(r'<td class="nhsuk-table__cell">([^<]*)</td>', html)
    assert not any(c.strip() in ("pcn", "config_version") or c.startswith("pcn ") for c in cells)
    assert event.actor_role == "operator"                    # the story is written by `pcnreg demo`
    assert "(Command line)" in html and "(operator)" not in html
