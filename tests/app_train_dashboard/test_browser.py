"""The dashboard in a real browser (headless Chromium), served by gunicorn over a tiny demo run."""

from tests.support.servers import browser_page, gunicorn, screenshot

STORED_PREVIEWS_PLAY = (
    "[...document.querySelectorAll('.error-card img')].every(i => i.complete && i.naturalWidth > 0)"
    " && [...document.querySelectorAll('.error-card audio')].every(a => a.readyState >= 1 && a.duration > 0)"
)
TRACES = "document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length"


def _pick_run(page, url: str, dataset: str) -> None:
    """Open the dashboard and choose the run trained on `dataset` in the run selector."""
    page.goto(url + "/")
    page.wait_for_selector("#run-select")
    page.click("#run-select")
    page.get_by_text(dataset, exact=False).last.click()


def test_analyst_picks_a_run_reads_curves_moves_the_threshold_and_opens_errors(dashboard_root, run_ids):
    with (
        gunicorn("app_train_dashboard.app:server", {"ARTIFACTS_DIR": str(dashboard_root)}) as url,
        browser_page() as page,
    ):
        _pick_run(page, url, "synthetic-heart-sounds")
        page.wait_for_function(f"{TRACES} === 4", timeout=30_000)  # 2 models x (train, validation)
        names = page.evaluate("document.querySelector('#learning-curve-graph .js-plotly-plot').data.map(t => t.name)")
        assert names == [
            "custom_cnn · train",
            "custom_cnn · validation",
            "mobilenet_v2 · train",
            "mobilenet_v2 · validation",
        ]

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


def test_errors_show_the_stored_pictures_and_play_the_stored_recordings_after_the_data_moved(moved_data_root):
    root, run = moved_data_root
    with gunicorn("app_train_dashboard.app:server", {"ARTIFACTS_DIR": str(root)}) as url, browser_page() as page:
        _pick_run(page, url, "synthetic-heart-sounds")
        page.get_by_role("tab", name="Errors").click()
        page.wait_for_selector(".error-card img", timeout=20_000)
        cards = page.locator(".error-card").count()
        assert (
            cards > 0 and page.locator(".error-card img").count() == page.locator(".error-card audio").count() == cards
        )
        page.wait_for_function(STORED_PREVIEWS_PLAY, timeout=15_000)
        assert screenshot(page, "dashboard-errors.png").stat().st_size > 10_000
