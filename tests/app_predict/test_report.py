"""The downloadable HTML report: what it says, and that nothing a user typed or uploaded runs in it."""

from app_predict.report import OOD_TEXT, REFUSED_TEXT, UNCERTAIN_TEXT, report_html

PNG = "data:image/png;base64,iVBORw0KGgo="
WHEN = "2026-01-02T00:00:00+00:00"


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
        "out_of_distribution": False,
        "ood_score": 0.4,
        "operating_point_version": 3,
        "threshold": 0.42,
        "review_band": [0.3, 0.6],
        "reviews": [],
    }
    return {**result, **changes}


REVIEWS = [
    {"verdict": "confirmed", "correct_label": "murmur", "comment": "clear", "user": "dr.a", "created_at": WHEN},
    {
        "verdict": "overridden",
        "correct_label": "normal",
        "comment": "artefact",
        "user": "dr.b",
        "created_at": "2026-07-01T12:30:00+00:00",
    },
]


def test_the_report_states_the_result_the_probabilities_and_the_intended_use():
    page = report_html(_result(), picture=PNG, heatmap=PNG, generated_at=WHEN)
    assert "<b>murmur</b>" in page and "75.0%" in page and "25.0%" in page
    assert "<li>the image is very dark</li>" in page and "custom_cnn (run 20260101-000000-run)" in page
    assert page.count(f'src="{PNG}"') == 2 and "not a certified medical device" in page and "hot (yellow)" in page
    uncertain = report_html(_result(uncertain=True, warnings=[]), picture=None, heatmap=None, generated_at=WHEN)
    assert UNCERTAIN_TEXT in uncertain and "no problem found" in uncertain and "<img" not in uncertain


def test_an_uncertain_call_at_the_threshold_is_never_called_the_most_likely_class():
    """At a threshold above 0.5 'normal' is called with the lower probability: the words must stay true."""
    lower = _result(predicted="normal", uncertain=True, probabilities={"normal": 0.38, "murmur": 0.62}, threshold=0.63)
    page = report_html(lower, picture=None, heatmap=None, generated_at=WHEN)
    assert "Called <b>normal</b> at the operating threshold" in page and "most likely" not in page.lower()
    several = report_html(_result(uncertain=True, threshold=None), picture=None, heatmap=None, generated_at=WHEN)
    assert "Called <b>murmur</b> as the most probable class" in several


def test_the_report_holds_the_case_every_review_the_operating_point_and_local_times():
    page = report_html(_result(reviews=REVIEWS), picture=None, heatmap=None, generated_at=WHEN, zone="Europe/Paris")
    assert "Case reference: <b>CASE-1</b>" in page
    assert "<td>2026-01-02 01:00 CET</td><td>dr.a</td><td>confirmed</td><td>murmur</td><td>clear</td>" in page
    assert "<td>2026-07-01 14:30 CEST</td><td>dr.b</td><td>overridden</td><td>normal</td><td>artefact</td>" in page
    assert "<td>3</td>" in page and "0.420" in page and "0.300 to 0.600" in page
    assert "like the training data (distance 0.40 times the limit)" in page
    assert "Predicted at</th><td>2026-01-01 01:00 CET" in page
    assert "Report generated</th><td>2026-01-02 01:00 CET" in page
    assert "@media print" in page and "break-inside:avoid" in page
    assert "Not reviewed yet." in report_html(_result(), picture=None, heatmap=None, generated_at=WHEN)


def test_a_withheld_result_gives_no_class_probability_or_heatmap_even_once_reviewed():
    withheld = _result(predicted=None, uncertain=True, out_of_distribution=True, ood_score=2.5, reviews=REVIEWS[1:])
    page = report_html(withheld, picture=PNG, heatmap=PNG, generated_at=WHEN)
    assert OOD_TEXT in page and "Predicted class" not in page and "Called" not in page
    assert "%" not in page.split("</style>")[1] and page.count(f'src="{PNG}"') == 1  # no probability, no heatmap
    assert "unlike the training data (distance 2.50 times the limit): the class is withheld" in page
    assert "<td>overridden</td><td>normal</td>" in page  # the reviewer's label is a review, not the model's class
    unchecked = report_html(_result(out_of_distribution=None), picture=None, heatmap=None, generated_at=WHEN)
    assert "not checked" in unchecked
    refused = _result(predicted=None, probabilities={}, out_of_distribution=None, refused_reason="the image is blank")
    page = report_html(refused, picture=None, heatmap=PNG, generated_at=WHEN)
    assert REFUSED_TEXT in page and "Why: the image is blank." in page and "None" not in page.replace("None:", "")
    assert "<img" not in page and "Predicted class" not in page


def test_a_hostile_filename_case_reference_comment_and_heatmap_source_are_escaped():
    hostile = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    page = report_html(
        _result(
            filename=f"scan{hostile}.png",
            case_ref=f"CASE{hostile}",
            warnings=[hostile],
            probabilities={hostile: 1.0},
            predicted=hostile,
            reviews=[{**REVIEWS[0], "comment": hostile, "user": hostile}],
        ),
        picture=PNG,
        heatmap='javascript:alert(3)" onload="alert(4)',
        generated_at=WHEN,
    )
    assert "<script>" not in page and "<img src=x" not in page
    # title and case line, file, warning, class name, verdict, predicted class, reviewer, comment: each as text
    assert page.count("&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;") == 9
    assert "javascript:" not in page and 'onload="' not in page  # only a PNG data URI is embedded as the heatmap
