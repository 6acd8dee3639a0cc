"""What the REST API accepts, as pydantic models: feedback, serving-state changes, the predictions query, uploads.

Each model is strict about what a client can get wrong: unknown fields,
wrong types, text too long for its column, control characters (a NUL byte
cannot be stored by PostgreSQL), numbers written any other way than plain
digits. `parse` turns the first problems into one `InvalidInput` (422) that
names the field and what it must be, quoting at most a few characters of
what was sent.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    model_validator,
)

from core.errors import InvalidInput
from core.store.audit_log import AuditLog, Filters

MAX_LIMIT = 5000
MAX_COMMENT_CHARS = 2000
MAX_QUOTED_CHARS = 40
MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have: a larger number is a 422, not an overflow (500)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, newline and carriage return are text
_LINE_BREAK = re.compile(r"[\t\n\r]")
# Text-direction controls: "\u202egnp.exe.wav" shows a recording as "vaw.exe.png" in the audit log, the
# worklist and the report. Refused in one-line fields (names, references, labels), not in free-text comments,
# where right-to-left writers use the marks.
_DIRECTION = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Invisible characters: "CASE\u200b1" reads as "CASE1" everywhere, but a search for CASE1 never finds it. Joiners
# (U+200C, U+200D) are left alone: Persian words and emoji sequences need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff]")
_DIGITS = re.compile(r"[0-9]{1,9}")
Model = TypeVar("Model", bound=BaseModel)


def _printable_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters such as NUL")
    return value


def _one_line(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError("must be one line of text")
    if _DIRECTION.search(value):
        raise ValueError(
            "must not contain text-direction controls (such as U+202E), which make it read as another name"
        )
    if _INVISIBLE.search(value):
        raise ValueError(
            "must not contain invisible characters (zero-width space, word joiner, byte-order mark), "
            "which make it look like another text"
        )
    return _printable_text(value)


def without_direction_controls(text: str | None) -> str | None:
    """`text` (a browser's file name, a typed case reference) without text-direction controls or invisible characters.

    The page's uploads do not pass through the API's checks, and a person
    cannot see these characters to remove them, so the page drops them.
    """
    return None if text is None else _INVISIBLE.sub("", _DIRECTION.sub("", text))


def _whole_number(value: Any) -> Any:
    """A query value must be plain digits ("1e3", "1.0" and "-1" are refused, not reinterpreted)."""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in digits")
    return value


def _field(max_length: int, check=_one_line) -> Any:
    return Annotated[str, Field(min_length=1, max_length=max_length), AfterValidator(check)]


Comment = _field(MAX_COMMENT_CHARS, _printable_text)
Identifier = _field(64)
RunId = _field(200)
Verdict = _field(20)
ModelName = _field(100)
ModelKey = _field(300)
Label = _field(200)
Filename = _field(500)
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


class Strict(BaseModel):
    """Unknown fields are refused (a misspelt filter must not silently select everything); empty text is unset."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _unset_empty(cls, values: Any) -> Any:
        return {k: v for k, v in values.items() if v != ""} if isinstance(values, dict) else values


class FeedbackBody(Strict):
    """The body of `POST /api/feedback`. The verdict's values are checked after the id is found (404 first)."""

    prediction_id: Identifier
    verdict: Verdict
    correct_label: Label | None = None
    comment: Comment | None = None

    def record(self, audit_log: AuditLog, user: str | None, *, reviews_seen: int | None = None) -> dict:
        """Add this review by `user` under `AuditLog.add_feedback`'s rule: the one way the API and pages record one."""
        return audit_log.add_feedback(
            self.prediction_id,
            verdict=self.verdict,
            correct_label=self.correct_label,
            comment=self.comment,
            user=user,
            reviews_seen=reviews_seen,
        )


class PromoteBody(Strict):
    """The body of `POST /api/champion`."""

    run: RunId
    model: ModelName
    reason: Comment
    force: StrictBool = False


class RollbackBody(Strict):
    """The body of `POST /api/champion/rollback`; `to` is a champion-history id (default: the previous champion)."""

    reason: Comment
    to: Annotated[StrictInt, Field(ge=1, le=MAX_ROW_ID)] | None = None


class OperatingPointBody(Strict):
    """The body of `POST /api/operating-points`; a threshold or band left out keeps the one in force."""

    run: RunId
    model: ModelName
    threshold: StrictFloat | None = None
    band: tuple[StrictFloat, StrictFloat] | None = None
    note: Comment | None = None


Modality = Literal["image", "sound"]


def _not_refused(value: Any) -> Any:
    """`reason=refused` answered with where refusals are now listed, not only with the reasons accepted."""
    if value == "refused":
        raise ValueError("uploads refused for quality are not on the review worklist; list them with refused=true")
    return value


class PredictionsQuery(Strict):
    """The query of `GET /api/predictions`; an empty value (`?model=`) means the filter is not set.

    `model` matches part of the name, in any case; `awaiting_review=true` is
    the review worklist (oldest first), and `reason` narrows it to one kind of
    case, so it needs `awaiting_review=true`. Uploads refused for quality are
    never on the worklist (no model answer to review): `refused=true` lists them.
    """

    limit: WholeNumber = Field(200, ge=1, le=MAX_LIMIT)
    offset: WholeNumber = Field(0, ge=0)
    model: ModelName | None = None
    case_ref: Label | None = None
    uncertain: bool | None = None
    feedback: Literal["confirmed", "overridden", "none"] | None = None
    modality: Modality | None = None
    awaiting_review: bool | None = None
    reason: Annotated[Literal["uncertain", "out_of_distribution"] | None, BeforeValidator(_not_refused)] = None
    refused: bool | None = None
    format: Literal["json", "csv"] = "json"

    @model_validator(mode="after")
    def _reason_on_the_worklist(self) -> PredictionsQuery:
        if self.reason is not None and self.awaiting_review is not True:
            raise ValueError("reason narrows the review worklist: add awaiting_review=true")
        if self.awaiting_review and self.feedback not in (None, "none"):
            raise ValueError("the review worklist holds cases without feedback: leave feedback out")
        return self

    def filters(self) -> Filters:
        """The filters, as `AuditLog.recent` and `AuditLog.count` take them."""
        return Filters(**self.model_dump(exclude={"limit", "offset", "format"}))


class ManifestQuery(Strict):
    """The query of `GET /api/reviewed-manifest.csv`: a training set is all images or all sounds."""

    modality: Modality
    model: ModelName | None = None


class PredictForm(Strict):
    """The form fields of `POST /api/predict` beside the file."""

    model: ModelKey | None = None
    case_ref: Label | None = None
    filename: Filename | None = None


def _quoted(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float | bool) or value is None else type(value).__name__
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 3] + "..."


def _describe(error: dict, model: type[BaseModel]) -> str:
    """One pydantic error as "field: what it must be, got ...", with a short quote of what was sent."""
    field = ".".join(str(part) for part in error["loc"]) or "body"
    if error["type"] == "extra_forbidden":
        return f"unknown field {field!r}; accepted: {', '.join(model.model_fields)}"
    if error["type"] == "missing":
        return f"give the field {field!r}"
    message = error["msg"].removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    if error["type"] == "string_too_long":
        return f"{field}: {message} (got {len(error['input'])})"
    if not error["loc"]:  # a rule across fields says what to change itself
        return message
    return f"{field}: {message}, got {_quoted(error['input'])}"


def parse(model: type[Model], values: dict[str, Any]) -> Model:
    """`values` checked by `model`.

    Raises:
        InvalidInput: every problem found, one clause each, naming the field.
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput("; ".join(_describe(error, model) for error in exc.errors())) from None
