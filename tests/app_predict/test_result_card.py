"""How an uncertain call is worded (result card, worklist): true even when the called class is the less probable."""

from app_predict.result_card import _verdict


def _uncertain(**changes) -> dict:
    result = {"predicted": "normal", "uncertain": True, "out_of_distribution": False, "threshold": 0.63}
    return {**result, "probabilities": {"normal": 0.38, "murmur": 0.62}, **changes}


def test_an_uncertain_call_names_how_it_was_made_never_most_likely():
    text = str(_verdict(_uncertain()))
    assert "Called normal at the operating threshold, but inside the review band" in text
    assert "most likely" not in text.lower()
    several = str(_verdict(_uncertain(predicted="noise", threshold=None)))
    assert "Called noise as the most probable class" in several


def test_the_worklist_says_how_an_uncertain_case_was_called_in_the_same_words():
    from app_predict.pages.worklist import _why

    row = {**_uncertain(), "refused_reason": None, "review_band": [0.48, 0.78]}
    assert _why(row) == (
        "Uncertain: the probability fell inside the review band 0.48-0.78; "
        "called normal at the operating threshold (normal 38%, murmur 62%)."
    )
