"""Accessibility of the role journeys (issue #16 item 12): every page a role passes through on the
demo's current round (the visitors' home and sign-in, each role's home and the task it opens)
has no serious or critical axe-core violation (WCAG 2.2 A/AA rules; axe-core is the npm package,
injected from node_modules), and a visitor reaches the sign-in form with the keyboard without
tabbing through links they cannot use."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .harness import AXE_JS, axe_violations, sign_in
from .test_home_journeys import JOURNEYS, PASSWORD, live_demo  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(not AXE_JS.is_file(), reason="axe-core is not installed (npm ci)")


def check(page, where: str, found: dict[str, list[str]]) -> None:
    problems = axe_violations(page)
    if problems:
        found[f"{where} {page.url}"] = problems


def test_every_page_of_the_role_journeys_passes_axe(open_page, live_demo, screenshot):  # noqa: F811
    found: dict[str, list[str]] = {}
    visitor = open_page(signed_in=False)
    visitor.goto("/")
    check(visitor, "visitor home", found)
    visitor.goto("/sign-in")
    check(visitor, "sign-in", found)
    for email, (_task, follow, heading) in sorted(JOURNEYS.items()):
        page = open_page(signed_in=False)
        sign_in(page, email, PASSWORD, next_path="/")
        expect(page.locator("h1")).to_have_text("Your tasks")
        check(page, f"{email} home", found)
        page.get_by_role("link", name=follow).first.click()
        expect(page.locator("h1")).to_contain_text(heading)
        check(page, f"{email} task", found)
        screenshot(page, email.split("@")[0])
    assert not found, "\n".join(f"{where}:\n  " + "\n  ".join(p) for where, p in found.items())


def _focused(page) -> dict:
    return page.evaluate("""() => { const e = document.activeElement;
        return {tag: e.tagName, text: (e.innerText || e.value || '').trim(), href: e.getAttribute('href'),
                name: e.getAttribute('name')} }""")


def test_a_visitor_reaches_the_sign_in_form_by_keyboard(open_page, live_demo):  # noqa: F811
    page = open_page(signed_in=False)
    page.goto("/")
    visited = []
    for _ in range(8):
        page.keyboard.press("Tab")
        visited.append(_focused(page))
        if visited[-1]["href"] and visited[-1]["href"].startswith("/sign-in"):
            break
    assert visited[0]["text"] == "Skip to main content"
    assert visited[-1]["href"].startswith("/sign-in"), visited
    assert len(visited) <= 4, visited                         # skip link, service name, sign in
    public = ("/", "/sign-in", "/about", "#maincontent", "/elections/")
    assert all(v["href"] is None or v["href"].startswith(public) for v in visited), visited
    page.keyboard.press("Enter")
    page.wait_for_url("**/sign-in**")
    for _ in range(6):
        page.keyboard.press("Tab")
        if _focused(page)["name"] == "email":
            break
    assert _focused(page)["name"] == "email"
    page.keyboard.type(next(iter(JOURNEYS)))
    page.keyboard.press("Tab")
    assert _focused(page)["name"] == "password"
