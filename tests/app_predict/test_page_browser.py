"""The prediction page as a clinician uses it, in headless Chromium at a desktop and a phone width, under gunicorn.

Screenshots are kept in test-artifacts/ (page_1400_*.png, page_390_*.png).
"""

import re
import shutil

import numpy as np
import pytest
import requests
from PIL import Image

from tests.support.servers import browser_page, screenshot

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
ID = re.compile(r"Prediction id ([0-9a-f]{32})")


@pytest.fixture(scope="module")
def files(tmp_path_factory, demo_folders):
    """Uploads: one audiogram, a batch chosen in an order its reading will not keep, and one heart sound."""
    folder = tmp_path_factory.mktemp("uploads")
    charts = sorted(demo_folders["audiograms"].rglob("*.png"))
    chart = folder / "chart.png"
    shutil.copyfile(charts[0], chart)
    large = folder / "z_large.png"  # read last by the browser, chosen first
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (900, 900, 3), dtype=np.uint8)).save(large)
    batch = [large, folder / "a_small.png", folder / "m_middle.png"]
    shutil.copyfile(charts[1], batch[1])
    shutil.copyfile(charts[2], batch[2])
    sound = folder / "heart.wav"
    shutil.copyfile(sorted(demo_folders["heart_sounds"].rglob("*.wav"))[0], sound)
    return {"chart": chart, "batch": batch, "sound": sound}


def _choose_model(page, dataset: str) -> None:
    page.click("#model-select")
    page.get_by_role("option", name=re.compile(re.escape(f"custom_cnn · {dataset}"))).click()


def _upload(page, *paths) -> None:
    """Choose files as a person does: click the zone, pick them in the file chooser (the same files again, too)."""
    with page.expect_file_chooser(timeout=15_000) as chooser:
        page.click("#upload")
    chooser.value.set_files([str(p) for p in paths])


def _new_result(page, old: str | None) -> str:
    """Wait for a result card whose prediction id is not `old`; return its id."""
    page.wait_for_function(
        "(old) => { const m = document.querySelector('.result-card')?.innerText.match(/Prediction id ([0-9a-f]{32})/);"
        " return m && m[1] !== old; }",
        arg=old,
        timeout=30_000,
    )
    return ID.search(page.inner_text(".result-card")).group(1)


def test_a_new_model_clears_the_result_and_the_same_file_predicts_again(server, files):
    with browser_page(DESKTOP) as page:
        page.goto(server + "/")
        _choose_model(page, "synthetic-audiograms")
        _upload(page, files["chart"])
        first = _new_result(page, None)
        _choose_model(page, "synthetic-heart-sounds")
        page.wait_for_function(
            "() => !document.querySelector('.result-card') && !document.querySelector('#results-table td')",
            timeout=15_000,
        )
        _choose_model(page, "synthetic-audiograms")
        _upload(page, files["chart"])
        second = _new_result(page, first)
        _upload(page, files["chart"])
        third = _new_result(page, second)
        assert len({first, second, third}) == 3
        screenshot(page, "page_1400_image_result.png")


def test_a_batch_is_shown_in_the_order_the_files_were_chosen(server, files):
    with browser_page(DESKTOP) as page:
        page.goto(server + "/")
        _choose_model(page, "synthetic-audiograms")
        _upload(page, *files["batch"])
        page.wait_for_function(
            "() => document.querySelectorAll('#results-table td[data-dash-column=filename]').length === 3",
            timeout=60_000,
        )
        shown = page.locator("#results-table td[data-dash-column=filename]").all_inner_texts()
        assert shown == [p.name for p in files["batch"]]


def test_a_recording_is_drawn_with_axes_and_its_heatmap_with_a_colour_bar_and_a_legend(server, files):
    with browser_page(DESKTOP) as page:
        page.goto(server + "/")
        _choose_model(page, "synthetic-heart-sounds")
        _upload(page, files["sound"])
        _new_result(page, None)
        page.wait_for_selector("#picture-graph .xtitle", timeout=15_000)
        graph = page.locator("#picture-graph")
        assert "time (s)" in graph.text_content() and "frequency (Hz)" in graph.text_content()
        assert graph.bounding_box()["width"] > 1000  # the whole card's width, not a thumbnail
        page.get_by_text("Show heatmap", exact=False).click()
        page.wait_for_selector("#picture-graph .colorbar", timeout=30_000)
        assert "hiding them lowered the probability" in page.inner_text("#heatmap-note")
        assert page.locator("audio").count() == 1
        screenshot(page, "page_1400_sound_heatmap.png")


def test_the_report_download_holds_the_case_the_review_and_the_operating_point(server, files, tmp_path):
    with browser_page(DESKTOP) as page:
        page.goto(server + "/")
        _choose_model(page, "synthetic-audiograms")
        page.fill("#case-ref", "WARD-7 bed 3")
        _upload(page, files["chart"])
        prediction = _new_result(page, None)
        recorded = requests.get(f"{server}/api/predictions", params={"case_ref": "WARD-7"}, timeout=10).json()
        row = next(r for r in recorded["predictions"] if r["id"] == prediction)
        other = next(name for name in row["probabilities"] if name != row["predicted"])
        page.click("#override-label")
        page.keyboard.type(other)
        page.keyboard.press("Enter")
        page.fill("#feedback-comment", "seen on the ward round")
        page.click("#override-button")
        page.wait_for_selector(f"text=Overridden: recorded as {other}", timeout=15_000)
        with page.expect_download(timeout=30_000) as download:
            page.click("#report-button")
        report = tmp_path / "report.html"
        download.value.save_as(report)
    text = report.read_text()
    assert "Case reference: <b>WARD-7 bed 3</b>" in text and prediction in text
    assert f"<td>overridden</td><td>{other}</td><td>seen on the ward round</td>" in text
    assert "Operating point in force" in text and "Review band</th><td>0." in text and " UTC</td>" in text


def test_at_390_px_nothing_overflows_sideways(server, files):
    with browser_page(PHONE) as page:
        page.goto(server + "/")
        page.click("#model-select")
        options = page.locator(".dash-dropdown-option")
        options.first.wait_for()
        cut = page.evaluate(
            "() => [...document.querySelectorAll('.dash-dropdown-option')]"
            ".filter(o => o.scrollWidth > o.clientWidth + 1 || o.getBoundingClientRect().right > window.innerWidth)"
            ".length"
        )
        assert cut == 0  # every model's name is fully readable
        screenshot(page, "page_390_models.png")
        page.get_by_role("option", name=re.compile("custom_cnn · synthetic-audiograms")).click()
        _upload(page, *files["batch"])
        _new_result(page, None)
        fits = "() => document.documentElement.scrollWidth <= window.innerWidth"
        assert page.evaluate(fits), page.evaluate("() => document.documentElement.scrollWidth")
        screenshot(page, "page_390_batch_result.png")
