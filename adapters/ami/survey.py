"""The end-of-call satisfaction survey (按键评价) as the dialplan tells it.

After the agent hangs up, the caller's leg runs ``Read(SAT,,1,,1,5)`` and then
``UserEvent(HotlineSurvey,Linkedid: ${CHANNEL(linkedid)},Score: ${SAT})`` (and, for the durable
record, ``CELGenUserEvent(HotlineSurvey,${SAT})``: the USER_DEFINED handler in adapters/cel/interpreter.py). ``Score`` is the
one key pressed, or empty when the caller pressed nothing before the timeout. The key is kept as
pressed; what it means is the deployment's scale (hotline/figures/survey.py).
"""

from __future__ import annotations

import re

SURVEY_EVENT = "HotlineSurvey"  # the UserEvent / CELGenUserEvent name the dialplan uses
_KEY = re.compile(r"^[0-9*#]$")


def survey_key(value: str | None) -> tuple[str | None, bool]:
    """(the key pressed or None for nothing, whether the value was believable). A value that is not
    one DTMF key (a dialplan bug, a hand-made event) is not stored, and says so."""
    text = (value or "").strip()
    if not text:
        return None, True
    if _KEY.match(text):
        return text, True
    return None, False
