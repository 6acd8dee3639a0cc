"""A specialist's review in headless Chromium, served by gunicorn: worklist, case, sign-off, history, audit filters.

The server keeps inputs (STORE_INPUTS) in an ARTIFACTS_DIR of this module's
own, where the image model's review band is [0, 1]: every image result is
uncertain, so the case to review is there by construction.
"""

from urllib.parse import urljoin

import pytest
import requests

from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import bad_images, good_png
from tests.support.servers import browser_page, gunicorn, screenshot

WIDE, PHONE = {"width": 1400, "height": 900}, {"width": 390, "height": 844}
WAIT = 30_000  # ms, the bound of every wait for the page


@pytest.fixture(scope="module")
def review_server(tmp_path_factory, image_run, sound_run, run_ids, model_keys):
    root = combine_runs(tmp_path_factory.mktemp("review"), (image_run, sound_run))
    promote_newest_best(root)
    env = {"ARTIFACTS_DIR": str(root), "STORE_INPUTS": "true", "DISPLAY_TIMEZONE": "Europe/Paris"}
    with gunicorn("app_predict.app:server", env) as url:
        band = {"run": run_ids["image"], "model": "custom_cnn", "band": [0.0, 1.0], "note": "review everything"}
        assert requests.post(f"{url}/api/operating-points", json=band, timeout=30).status_code == 200
        yield url


def _post(url: str, data: bytes, model: str, case_ref: str) -> requests.Response:
    files = {"file": ("scan.png", data)}
    return requests.post(f"{url}/api/predict", files=files, data={"model": model, "case_ref": case_ref}, timeout=60)


def _table_text(page, table: str) -> str:
    return page.inner_text(f"#{table}")


def _review(page, url: str, case_ref: str) -> None:
    """Open the worklist, open the case, sign it off with a label and a comment; it leaves the list."""
    page.goto(url + "/worklist")
    page.wait_for_selector(f"#worklist-table td >> text={case_ref}", timeout=WAIT)
    assert "uncertain" in _table_text(page, "worklist-table")
    screenshot(page, "worklist_list.png")
    page.locator("#worklist-table td", has_text=case_ref).first.click()
    page.wait_for_selector("#case-view img[src^='data:image/png']", timeout=WAIT)
    assert "Uncertain" in page.inner_text("#case-view")
    page.click("#case-label")
    page.get_by_text("noise_notch", exact=True).last.click()
    page.fill("#case-comment", "notch visible on review")
    page.click("#case-sign")
    page.wait_for_selector("text=Signed off as noise_notch", timeout=WAIT)
    page.wait_for_selector("#case-history >> text=notch visible on review", timeout=WAIT)
    page.wait_for_function(
        f"() => !document.querySelector('#worklist-table').innerText.includes('{case_ref}')", timeout=WAIT
    )
    screenshot(page, "worklist_signed.png")


def _report_holds_the_review(page, case_ref: str) -> None:
    """The case's report link gives the filed report: the case, the label signed off, the comment, local times."""
    href = page.get_attribute("#case-view a[href$='/report']", "href")
    report = page.request.get(urljoin(page.url, href))
    assert report.ok and report.headers["content-type"].startswith("text/html")
    text = report.text()
    assert case_ref in text and "noise_notch" in text and "notch visible on review" in text
    assert "CET" in text or "CEST" in text


def _selected(page, select: str) -> str:
    return page.eval_on_selector(f"#{select}", "s => s.options[s.selectedIndex].text")


def _audit_filters(page) -> None:
    """The selects show their choices, the model matches in part, times are local with their zone."""
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_selector("#audit-table td >> text=WB-1", timeout=WAIT)
    assert (_selected(page, "audit-uncertain"), _selected(page, "audit-feedback")) == ("any certainty", "any feedback")
    page.select_option("#audit-feedback", "none")
    page.fill("#audit-model", "CNN")
    page.press("#audit-model", "Enter")
    page.wait_for_function(
        "() => !document.querySelector('#audit-table').innerText.includes('WB-1')", timeout=WAIT
    )  # WB-1 has feedback now
    assert _selected(page, "audit-feedback") == "no feedback"
    text = _table_text(page, "audit-table")
    assert "WB-2" in text and "refused" in text and "custom_cnn" in text and ("CET" in text or "CEST" in text)
    assert "run" in page.inner_text("#audit-table th >> nth=3")
    screenshot(page, "audit_filters.png")


def _fits_the_phone(page, table: str) -> None:
    """Nothing pushes the page sideways; the table scrolls in its own box; model names and run ids are whole."""
    page.wait_for_selector(f"#{table} td", timeout=WAIT)
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    cells = f"#{table} td[data-dash-column=model] div, #{table} td[data-dash-column=run_id] div"
    script = "cells => [cells.length, cells.filter(c => c.scrollWidth > c.clientWidth + 1).length]"
    shown, cut = page.eval_on_selector_all(cells, script)
    assert shown > 0 and cut == 0


def test_a_specialist_reviews_a_case_from_the_worklist(review_server, model_keys):
    uncertain = _post(review_server, good_png(), model_keys["image"], "WB-1")
    assert uncertain.status_code == 200 and uncertain.json()["uncertain"]
    refused = _post(review_server, bad_images()["uniform_teal.png"][0], model_keys["image"], "WB-2")
    assert refused.status_code == 422 and "blank" in refused.json()["error"]
    assert _post(review_server, good_png(), model_keys["image"], "WB-3").status_code == 200
    with browser_page(WIDE) as page:
        _review(page, review_server, "WB-1")
        _report_holds_the_review(page, "WB-1")
        waiting = _table_text(page, "worklist-table")
        assert "WB-3" in waiting and "WB-2" not in waiting  # a refusal has no answer to review: never waits
        _audit_filters(page)
    with browser_page(PHONE) as page:
        page.goto(review_server + "/worklist")
        _fits_the_phone(page, "worklist-table")
        screenshot(page, "worklist_phone.png")
        page.goto(review_server + "/audit")
        _fits_the_phone(page, "audit-table")
        screenshot(page, "audit_phone.png")
