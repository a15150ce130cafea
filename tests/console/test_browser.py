"""End to end in a real headless Chromium (Debian's, driven by Playwright; no download).

A reviewer logs in through the form, filters the list, opens records, sees the verdicts
and the diff (and no raw SSN), checks a proof, overrides an escalation, sees the review
record appear, looks at the dashboard, exports evidence and logs out (a kept copy of the
cookie then opens nothing), and the CLI verifies the zip.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.console.conftest import ARTIFACTS, AUDITOR_KEY, SSN, Console
from tests.console.test_evidence import verify
from tests.console.test_review import _escalate

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="run `make browser`")]


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def test_a_reviewer_works_through_the_console(console: Console, tmp_path: Path) -> None:
    decision = _escalate(console)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            page.goto(f"{console.url}/console/decisions")
            expect(page.get_by_role("heading", name="Log in to the review console")).to_be_visible()
            _shot(page, "1-login")
            page.get_by_label("API key").fill(AUDITOR_KEY)
            page.get_by_label("API key").press("Enter")  # keyboard, no mouse
            expect(page.get_by_role("heading", name="Decisions")).to_be_visible()

            page.get_by_label("Action", exact=True).select_option("escalate")
            page.get_by_role("button", name="Filter").click()
            expect(page.get_by_role("link", name=decision)).to_be_visible()
            expect(page.get_by_role("link", name=console.phi)).to_have_count(0)
            _shot(page, "2-filtered")

            page.get_by_label("Action", exact=True).select_option("")
            page.get_by_label("Principle", exact=True).select_option("phi-disclosure")
            page.get_by_role("button", name="Filter").click()
            page.get_by_role("link", name=console.phi).click()
            expect(page.locator("#diff")).to_contain_text("<US_SSN>")
            expect(page.locator("#no-diff")).to_contain_text("stored redacted")
            assert SSN not in page.content()
            _shot(page, "3-record-diff")
            page.get_by_role("button", name="Check inclusion proof").click()
            expect(page.locator("#proof-result")).to_contain_text("Inclusion proof verified")
            _shot(page, "4-proof")

            page.get_by_role("link", name="Review queue").click()
            page.get_by_role("link", name=decision).click()
            violated = page.locator("article.verdict.violated")
            expect(violated).to_contain_text("personalised-recommendation")
            expect(violated).to_contain_text("Principle:")
            expect(violated).to_contain_text("Evidence:")
            expect(page.locator("#diff del").first).to_be_visible()
            expect(page.locator("#diff ins").first).to_contain_text("needs review")
            page.get_by_label("Override: release the text below").check()
            page.get_by_label("Text to release (override only)").fill(
                "A licensed adviser can help you spread your savings.")
            page.get_by_label("Note", exact=True).fill("too specific for a chatbot")
            page.get_by_role("button", name="Record review as reviewer-1").click()
            review = page.locator("article.review")
            expect(review).to_contain_text("override by reviewer-1")
            expect(review).to_contain_text("A licensed adviser can help you spread")
            _shot(page, "5-reviewed")
            page.get_by_role("link", name="Review queue").click()
            expect(page.get_by_role("link", name=decision)).to_have_count(0)

            page.get_by_role("link", name="Dashboard").click()
            expect(page.locator("svg.chart")).to_have_count(4)
            expect(page.locator("svg.chart title").first).to_have_text("Decisions by action")
            _shot(page, "6-dashboard")

            page.get_by_role("link", name="Evidence export").click()
            with page.expect_download() as waiting:
                page.get_by_role("button", name="Download evidence zip").click()
            archive = tmp_path / "evidence.zip"
            waiting.value.save_as(archive)

            kept = page.context.cookies()
            page.get_by_role("button", name="Log out").click()
            expect(page.get_by_role("heading", name="Log in to the review console")).to_be_visible()
            page.context.add_cookies(kept)  # a copy of the cookie kept past logout
            page.goto(f"{console.url}/console/queue")
            expect(page.get_by_role("heading", name="Log in to the review console")).to_be_visible()
        finally:
            browser.close()
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path / "evidence")
    result = verify(tmp_path / "evidence")
    assert result.returncode == 0, result.stdout + result.stderr
    chain = b"".join(f.read_bytes() for f in (tmp_path / "evidence/ledger").glob("*.jsonl"))
    assert b'"verdict":"override"' in chain and decision.encode() in chain
