"""The Run settings, Class examples and blend views in a real browser (headless Chromium), served by gunicorn."""

from tests.app_train_dashboard.conftest import BLEND_NOTE
from tests.app_train_dashboard.test_browser import _pick_run
from tests.support.servers import browser_page, gunicorn, screenshot

EXAMPLES_SHOWN = (
    "[...document.querySelectorAll('.example-card img')].every(i => i.complete && i.naturalWidth > 0)"
    " && document.querySelectorAll('.example-card audio').length === document.querySelectorAll('.example-card').length"
)


def test_analyst_reads_how_the_run_was_trained_each_class_and_that_a_blend_has_no_curve(blend_root):
    root, run = blend_root
    with gunicorn("app_train_dashboard.app:server", {"ARTIFACTS_DIR": str(root)}) as url, browser_page() as page:
        _pick_run(page, url, "synthetic-heart-sounds")
        page.wait_for_selector("#curve-notes .alert", timeout=30_000)
        page.keyboard.press("Escape")  # close the run selector before the screenshot
        assert BLEND_NOTE in page.inner_text("#curve-notes").splitlines()
        assert screenshot(page, "dashboard-blend-curves.png").stat().st_size > 10_000

        page.get_by_role("tab", name="Run settings").click()
        page.wait_for_selector("#settings-table table", timeout=20_000)
        settings = page.inner_text("#settings-table")
        for shown in (
            "synthetic-heart-sounds (sound)",
            "2000 Hz",
            "4 s, 25% overlap",
            "standard, chosen by --augment auto (sounds)",
        ):
            assert shown in settings
        models = page.inner_text("#settings-models")
        assert "averages custom_cnn and baseline" in models
        assert screenshot(page, "dashboard-run-settings.png").stat().st_size > 10_000

        page.get_by_role("tab", name="Class examples").click()
        page.wait_for_selector(".example-card img", timeout=20_000)
        assert page.locator(".example-class").all_inner_texts() == ["murmur", "normal"]
        page.wait_for_function(f"() => {EXAMPLES_SHOWN}", timeout=15_000)
        assert screenshot(page, "dashboard-class-examples.png").stat().st_size > 10_000
