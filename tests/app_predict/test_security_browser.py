"""Both apps under their Content-Security-Policy in headless Chromium: pages render, callbacks run, none blocked.

Chromium reports every blocked script, style, image or `eval` on the console
("Refused to ... Content Security Policy"). Waits use arrow functions: the
policy refuses `eval`, which Playwright uses for a bare expression.
"""

from tests.support.bad_inputs import bad_sounds, good_png
from tests.support.servers import browser_page, gunicorn

TRACES = "() => document.querySelector('#learning-curve-graph .js-plotly-plot')?.data?.length >= 2"


def test_both_apps_work_under_their_content_security_policy(predict_root, tmp_path):
    files = [tmp_path / "scan.png", tmp_path / "beat.wav"]
    files[0].write_bytes(good_png())
    files[1].write_bytes(bad_sounds()["float.wav"][0])
    with gunicorn("wsgi:application", {"ARTIFACTS_DIR": str(predict_root)}) as url, browser_page() as page:
        console = []
        page.on("console", lambda message: console.append(message.text))

        response = page.goto(url + "/")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        page.set_input_files("#upload input[type=file]", [str(path) for path in files])  # a batch, to the champion
        page.wait_for_selector(".result-card", timeout=30_000)  # the upload callback ran and drew its result

        page.goto(url + "/analytics/")
        page.wait_for_function(TRACES, timeout=30_000)  # plotly drew the newest run's curves from a callback
    assert not [text for text in console if "Content Security Policy" in text], console
