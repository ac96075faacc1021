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
                                                        AuditEvent.action == "registration.submit")
                               .order_by(AuditEvent.seq).limit(1))
    assert event is not None and event.object_type == "pcn" and event.actor_role == "operator"
    newer = _db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.round_id == history.id, AuditEvent.seq > event.seq))
    html = client.get(f"/rounds/{history.id}/audit?page={newer // 100 + 1}").get_data(as_text=True)
    row = re.search(rf'<tr class="nhsuk-table__row">\s*<td class="nhsuk-table__cell">{event.seq}</td>(.*?)</tr>',
                    html, flags=re.S).group(1)
    cells = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", c)).strip()
             for c in re.findall(r'<td class="nhsuk-table__cell">(.*?)</td>', row, flags=re.S)]
    # when, who (role in words: the story is written by `pcnreg demo`), action (and its code), object
    assert cells[1] == f"{event.actor} (Command line)"
    assert cells[2] == "Registration: submit the registration registration.submit"
    assert '<span class="nhsuk-u-display-block nhsuk-u-secondary-text-colour nhsuk-u-font-size-16 ' \
           'pcnreg-audit-code">registration.submit</span>' in row
    assert cells[3] == f"PCN {event.object_id}"
