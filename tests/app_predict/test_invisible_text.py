"""Invisible characters: a case reference must be found by what it shows, and look like what it is."""

import pytest

from app_predict.schemas import PredictForm, parse, without_direction_controls
from core.errors import InvalidInput


@pytest.mark.parametrize("text", ["CASE\u200b1", "\ufeffCASE1", "CASE\u20601"])
@pytest.mark.parametrize("field", ["filename", "case_ref"])
def test_invisible_characters_are_refused_by_the_api(field, text):
    with pytest.raises(InvalidInput, match="invisible characters"):
        parse(PredictForm, {field: text})


def test_the_page_drops_them_and_keeps_the_joiners_words_need():
    assert without_direction_controls("\ufeffCASE\u200b1") == "CASE1"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a zero-width non-joiner inside a word
    assert without_direction_controls(persian) == persian
    assert parse(PredictForm, {"case_ref": persian}).case_ref == persian
