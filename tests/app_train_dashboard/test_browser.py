"""The dashboard in a real browser (headless Chromium), served by gunicorn over a tiny demo run."""

import json
import re
import urllib.request

import requests

from core.evaluation.guardrails import promotion_concerns
from core.settings import Settings
from core.store.audit_log import AuditLog
from core.store.monitoring import Monitoring
from core.store.registry import save_operating_point
from core.store.runs import load_run
from core.store.serving_state import ServingState
from tests.app_train_dashboard.conftest import store_recordings_at
from tests.core.store.test_monitoring import clinic
from tests.support.servers import browser_page, gunicorn, screenshot

STORED_PREVIEWS_PLAY = (
    "[...document.querySelectorAll('.error-card img')].every(i => i.complete && i.naturalWidth > 0)"
    " && [...document.querySelectorAll('.error-card audio')].every(a => a.readyState >= 1 && a.duration > 0)"
)
TRACES = "document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length"
TABS = "[...document.querySelectorAll('#tabs [role=tab]')]"
TAB_ROWS = f"new Set({TABS}.map(t => Math.round(t.getBoundingClientRect().top))).size"
TABS_FIT = "document.querySelector('#tabs').scrollWidth <= document.querySelector('#tabs').clientWidth"


def _pick_run(page, url: str, dataset: str, *, path: str = "/") -> None:
    """Open the dashboard (at `path`) and choose the run trained on `dataset` in the run selector."""
    page.goto(url + path)
    page.wait_for_selector("#run-select")
    page.click("#run-select")
    page.get_by_role("option", name=re.compile(re.escape(dataset))).first.click()


def _promotion_buttons(page, model: str) -> dict[str, bool]:
    """Open the promotion dialog for `model`: which of "Promote" and "Promote anyway" it shows; then close it."""
    page.click("#promote-model")
    page.get_by_role("option", name=model, exact=True).click()
    page.click("#promote-button")
    shows = f"() => document.querySelector('#promote-modal-text')?.innerText.includes({model!r})"
    page.wait_for_function(shows, timeout=20_000)
    shown = {name: page.locator(f"#{name}").is_visible() for name in ("promote-confirm", "promote-force")}
    page.click("#promote-cancel")
    page.wait_for_selector("#promote-modal", state="hidden", timeout=10_000)
    return shown


def test_analyst_picks_a_run_reads_curves_moves_the_threshold_and_opens_errors(dashboard_root, run_ids):
    with (
        gunicorn("app_train_dashboard.app:server", {"ARTIFACTS_DIR": str(dashboard_root)}) as url,
        browser_page() as page,
    ):
        _pick_run(page, url, "synthetic-heart-sounds")
        loaded = load_run(dashboard_root, run_ids["sound"]).models
        models = [name for name, model in loaded.items() if not model.blend_parts]  # a blend has no curve
        page.wait_for_function(f"() => {TRACES} === {2 * len(models)}", timeout=30_000)  # (train, validation) each
        names = page.evaluate("document.querySelector('#learning-curve-graph .js-plotly-plot').data.map(t => t.name)")
        assert names == [f"{model} · {split}" for model in models for split in ("train", "validation")]
        assert page.evaluate(f"{TABS}.length") == 12
        assert page.evaluate(TAB_ROWS) == 1 and page.evaluate(TABS_FIT)  # one row at 1440 px, none scrolled away

        page.get_by_role("tab", name="Comparison").click()
        refused = bool(promotion_concerns(loaded["custom_cnn"].report))
        assert _promotion_buttons(page, "custom_cnn") == {"promote-confirm": not refused, "promote-force": refused}

        page.get_by_role("tab", name="Operating point").click()
        page.wait_for_selector("#op-stats table")
        before = page.inner_text("#op-stats")
        handle = page.locator("#op-threshold [role=slider]").first
        handle.focus()
        handle.press("End")  # threshold to 1: nothing is called positive
        page.wait_for_function(f"() => document.querySelector('#op-stats').innerText !== {before!r}", timeout=15_000)
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
        _pick_errors_of(page, "custom_cnn")  # wrong on every test item (`moved_data_root`)
        page.wait_for_selector(".error-card img", timeout=20_000)
        cards = page.locator(".error-card").count()
        assert (
            cards > 0 and page.locator(".error-card img").count() == page.locator(".error-card audio").count() == cards
        )
        page.wait_for_function(f"() => {STORED_PREVIEWS_PLAY}", timeout=15_000)
        assert screenshot(page, "dashboard-errors.png").stat().st_size > 10_000


def _pick_errors_of(page, model: str) -> None:
    """Choose `model` in the Errors tab's model picker."""
    page.click("#errors-model")
    page.get_by_role("option", name=model, exact=True).click()


def _move(page, slider: str, handle: int, start: str, steps: int) -> None:
    """Move one handle of a Dash slider with the keyboard: to `start` ("Home"/"End"), then `steps` of 0.01."""
    knob = page.locator(f"#{slider} [role=slider]").nth(handle)
    knob.focus()
    knob.press(start)
    for _ in range(abs(steps)):
        knob.press("ArrowRight" if steps > 0 else "ArrowLeft")


def _slider_values(page, slider: str) -> list[float]:
    return [float(v) for v in page.locator(f"#{slider} [role=slider]").evaluate_all("h => h.map(k => k.ariaValueNow)")]


def _wait_for_refreshes(page, count: int) -> None:
    """Block until the page has received `count` more answers to its periodic refresh (bounded: 90 s)."""
    seen = []
    page.on(
        "response",
        lambda r: seen.append(1) if "refresh-interval.n_intervals" in (r.request.post_data or "") else None,
    )
    for _ in range(360):
        if len(seen) >= count:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"the page answered {len(seen)} of {count} refreshes within 90 s")


def test_the_analysts_threshold_and_band_survive_refreshes_and_are_served_once_saved(
    dashboard_root, run_ids, demo_folders
):
    run = run_ids["sound"]
    state = ServingState(AuditLog(Settings(artifacts_dir=dashboard_root).audit_database_url).engine)
    # In force before: a point unlike the one the sliders are moved to, whatever earlier tests saved.
    save_operating_point(dashboard_root, state, run, "mobilenet_v2", threshold=0.6, review_band=(0.5, 0.7), user=None)
    env = {"ARTIFACTS_DIR": str(dashboard_root), "DASHBOARD_REFRESH_SECONDS": "1"}
    with gunicorn("wsgi:application", env) as url, browser_page() as page:
        _pick_run(page, url, "synthetic-heart-sounds", path="/analytics/")
        page.get_by_role("tab", name="Operating point").click()
        page.wait_for_selector("#op-stats table")
        page.click("#op-model")
        page.get_by_role("option", name="mobilenet_v2", exact=True).click()
        _move(page, "op-threshold", 0, "Home", 30)
        _move(page, "op-band", 0, "Home", 20)
        _move(page, "op-band", 1, "End", -55)
        moved = (_slider_values(page, "op-threshold"), _slider_values(page, "op-band"))
        assert moved == ([0.3], [0.2, 0.45])

        _wait_for_refreshes(page, 3)
        assert (_slider_values(page, "op-threshold"), _slider_values(page, "op-band")) == moved
        assert page.inner_text("#op-model") == "mobilenet_v2"
        assert "The sliders are not saved" in page.inner_text("#op-in-force")

        page.fill("#op-note", "browser test: after refreshes")
        page.click("#op-save-button")
        page.wait_for_selector("#op-save-result .alert-success", timeout=15_000)
        saved = page.inner_text("#op-save-result")
        assert "threshold 0.300 and review band 0.200–0.450" in saved
        version = int(saved.split("version ")[1].split(":")[0])
        in_force = f"In force: version {version}: threshold 0.300, review band 0.200–0.450"
        shown = f"() => document.querySelector('#op-in-force').innerText.startsWith({in_force!r})"
        page.wait_for_function(shown, timeout=15_000)
        assert "not saved" not in page.inner_text("#op-in-force")

        recording = sorted(demo_folders["heart_sounds"].rglob("*.wav"))[0]
        with recording.open("rb") as file:
            answer = requests.post(
                url + "/api/predict", files={"file": file}, data={"model": f"{run}/mobilenet_v2"}, timeout=60
            ).json()
        assert answer["operating_point_version"] == version
        assert answer["threshold"] == 0.3 and answer["review_band"] == [0.2, 0.45]
        history = json.load(urllib.request.urlopen(f"{url}/api/operating-points?run={run}&model=mobilenet_v2"))
        assert history["versions"][0]["note"] == "browser test: after refreshes"


PLAY = """async () => {
    const audio = document.querySelector('.error-card audio');
    audio.muted = true;  // autoplay rules allow a muted play() without a click
    const late = new Promise(resolve => setTimeout(() => resolve('no answer within 10 s'), 10000));
    const played = audio.play().then(() => 'playing', error => error.name + ': ' + error.message);
    const answer = await Promise.race([played, late]);
    audio.pause();
    return answer;
}"""
MONITOR_TRACES = "document.querySelector('#monitor-graph .js-plotly-plot')?.data?.length"


def test_clinic_feedback_shows_each_served_model_and_the_errors_recordings_play(moved_data_root):
    root, run = moved_data_root
    store_recordings_at(run, 2000)  # as older runs stored them: Chromium refuses to play a WAV below 3 kHz
    log = AuditLog(Settings(artifacts_dir=root).audit_database_url)
    clinic(log)
    traces = 5 * len(Monitoring(log.engine).served_models())  # the copied log may hold other tests' predictions too
    env = {"ARTIFACTS_DIR": str(root), "DISPLAY_TIMEZONE": "Europe/Paris"}
    with (
        gunicorn("app_train_dashboard.app:server", env) as url,
        browser_page({"width": 1400, "height": 900}) as page,
    ):
        _pick_run(page, url, "synthetic-heart-sounds")
        page.get_by_role("tab", name="Clinic feedback").click()
        page.wait_for_function(f"() => {MONITOR_TRACES} === {traces}", timeout=60_000)  # 5 panels a served model
        totals = page.inner_text("#monitor-table")
        assert "40.0% (2 of 5)" in totals and "50.0% (15.0%–85.0%), 2 of 4" in totals
        assert screenshot(page, "dashboard-clinic-feedback.png").stat().st_size > 10_000

        page.get_by_role("tab", name="Errors").click()
        _pick_errors_of(page, "custom_cnn")
        page.wait_for_selector(".error-card audio", timeout=60_000)
        assert page.evaluate(PLAY) == "playing"
