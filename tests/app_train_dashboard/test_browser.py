"""The dashboard in a real browser (headless Chromium), served by gunicorn over a tiny demo run."""

from tests.support.servers import browser_page, gunicorn, screenshot

TRACES = "document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length"


def test_analyst_picks_a_run_reads_curves_moves_the_threshold_and_opens_errors(dashboard_root, run_ids):
    with gunicorn("app_train_dashboard.app:server", {"ARTIFACTS_DIR": str(dashboard_root)}) as url, browser_page() as page:
        page.goto(url + "/")
        page.wait_for_selector("#run-select")
        page.click("#run-select")
        page.get_by_text("synthetic-heart-sounds", exact=False).last.click()
        page.wait_for_function(f"{TRACES} === 4", timeout=30_000)  # 2 models x (train, validation)
        names = page.evaluate("document.querySelector('#learning-curve-graph .js-plotly-plot').data.map(t => t.name)")
        assert names == ["custom_cnn · train", "custom_cnn · validation", "mobilenet_v2 · train", "mobilenet_v2 · validation"]

        page.get_by_role("tab", name="Operating point").click()
        page.wait_for_selector("#op-stats table")
        before = page.inner_text("#op-stats")
        handle = page.locator("#op-threshold [role=slider]").first
        handle.focus()
        handle.press("End")  # threshold to 1: nothing is called positive
        page.wait_for_function(f"document.querySelector('#op-stats').innerText !== {before!r}", timeout=15_000)
        assert "Sensitivity\t0.000" in page.inner_text("#op-stats")

        page.get_by_role("tab", name="Errors").click()
        page.wait_for_selector(".error-card, #errors-gallery .alert", timeout=20_000)
        assert page.locator(".error-card").count() + page.locator("#errors-gallery .alert").count() > 0
        shot = screenshot(page, "dashboard.png")
        assert shot.stat().st_size > 10_000
