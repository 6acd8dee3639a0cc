"""A clinician's path through the prediction page in headless Chromium, served by gunicorn."""

import pytest

from core.store.examples import export_examples
from tests.support.servers import browser_page, screenshot


@pytest.fixture(scope="module")
def page_server(server, predict_root, run_ids):
    """The session's server, with examples: the page lists them from ARTIFACTS_DIR on each visit."""
    export_examples(predict_root, run_ids["image"], per_class=1)
    return server


def test_upload_read_explain_override_audit_and_a_corrupt_file(page_server, predict_root, tmp_path):
    example = next((predict_root / "examples" / "synthetic-audiograms").iterdir())
    corrupt = tmp_path / "scan.png"
    corrupt.write_text("this is a text file with a .png name")
    with browser_page({"width": 1280, "height": 1000}) as page:
        page.goto(page_server + "/")
        page.wait_for_selector("#model-select")
        page.click("#model-select")
        page.get_by_text("custom_cnn · synthetic-audiograms", exact=False).first.click()

        page.set_input_files("#upload input[type=file]", str(example))
        card = page.wait_for_selector(".result-card", timeout=30_000)
        text = card.inner_text()
        assert any(name in text for name in ("normal", "high_frequency_loss", "noise_notch"))
        assert "%" in page.inner_text("#results-table") and "custom_cnn" in text

        page.get_by_text("Show heatmap", exact=False).click()
        page.wait_for_selector("#picture-graph .colorbar", timeout=30_000)
        screenshot(page, "predict_result.png")

        page.click("#override-label")
        page.keyboard.type("noise_notch")
        page.get_by_role("option", name="noise_notch", exact=True).click()  # Enter may beat the filtered list
        page.fill("#feedback-comment", "notch at 4 kHz on review")
        page.click("#override-button")
        page.wait_for_selector("text=Overridden: recorded as noise_notch", timeout=15_000)

        page.get_by_role("link", name="Audit log").click()
        page.wait_for_selector("text=notch at 4 kHz on review", timeout=15_000)
        assert "overridden" in page.inner_text("#audit-table")
        screenshot(page, "predict_audit.png")

        page.get_by_role("link", name="Predict").click()
        page.wait_for_selector("#upload input[type=file]", state="attached")
        page.set_input_files("#upload input[type=file]", str(corrupt))
        page.wait_for_selector("text=not a supported image or sound file", timeout=30_000)
        assert "Error:" in page.inner_text("#results-table")
        screenshot(page, "predict_error.png")
