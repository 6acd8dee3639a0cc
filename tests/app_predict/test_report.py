"""The downloadable HTML report: what it says, and that nothing a user typed or uploaded runs in it."""

from app_predict.report import UNCERTAIN_TEXT, report_html

PNG = "data:image/png;base64,iVBORw0KGgo="


def _result(**changes) -> dict:
    result = {
        "id": "abc123",
        "filename": "scan.png",
        "case_ref": "CASE-1",
        "predicted": "murmur",
        "uncertain": False,
        "probabilities": {"normal": 0.25, "murmur": 0.75},
        "warnings": ["the image is very dark"],
        "model": "custom_cnn",
        "run_id": "20260101-000000-run",
        "created_at": "2026-01-01T00:00:00+00:00",
    }
    return {**result, **changes}


def test_the_report_states_the_result_the_probabilities_and_the_intended_use():
    page = report_html(_result(), picture=PNG, heatmap=PNG, generated_at="2026-01-02T00:00:00+00:00")
    assert "<b>murmur</b>" in page and "75.0%" in page and "25.0%" in page
    assert (
        "<li>the image is very dark</li>" in page
        and "CASE-1" in page
        and "custom_cnn (run 20260101-000000-run)" in page
    )
    assert page.count(f'src="{PNG}"') == 2 and "not a certified medical device" in page
    uncertain = report_html(_result(uncertain=True, warnings=[]), picture=None, heatmap=None, generated_at="now")
    assert UNCERTAIN_TEXT in uncertain and "<li>none</li>" in uncertain and "<img" not in uncertain


def test_a_hostile_filename_case_reference_and_heatmap_source_are_escaped():
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    page = report_html(
        _result(
            filename=f"scan{hostile}.png",
            case_ref=f"CASE{hostile}",
            warnings=[hostile],
            probabilities={hostile: 1.0},
            predicted=hostile,
        ),
        picture=PNG,
        heatmap='javascript:alert(3)" onload="alert(4)',
        generated_at=hostile,
    )
    assert "<script>" not in page and "<img src=x" not in page
    # file, case, warning, class name, verdict, predicted class, generated-at: each printed as text
    assert page.count("&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;") == 7
    assert "javascript:" not in page and 'onload="' not in page  # only a PNG data URI is embedded as the heatmap
