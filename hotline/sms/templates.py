"""One template per kind of notice. They carry the order number, times and the result's
category, never the reply's free text or anyone's name: an SMS may be read by whoever holds
the phone, and the reply text can name third parties (the full reply is in the lookup)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SIGNATURE = "【12345】"
RESULTS = {
    "resolved": "已解决",
    "explained": "已解释说明",
    "partly_resolved": "已部分解决",
    "unresolvable": "暂无法解决",
}
SURVEY_ANSWERS = {"1": "satisfied", "2": "basically_satisfied", "3": "unsatisfied"}
OPT_OUT_WORDS = frozenset({"TD", "T", "退订", "N"})


def _when(moment: datetime, tz: ZoneInfo) -> str:
    local = moment.astimezone(tz)
    return f"{local.month}月{local.day}日{local:%H:%M}"


def intake(number: str, reply_due_at: datetime | None, tz: ZoneInfo) -> str:
    promise = f"我们将在{_when(reply_due_at, tz)}前答复您" if reply_due_at else "我们将按规定时限答复您"
    return f"{SIGNATURE}您的诉求已受理，工单号{number}，{promise}。凭工单号和手机尾号可查询进度。回复TD退订"


def reply(number: str, result: str | None, unit_name: str) -> str:
    outcome = RESULTS.get(result or "", "已办理")
    return f"{SIGNATURE}工单{number}已由{unit_name}办理答复：{outcome}。凭工单号和手机尾号可查看答复内容。"


def survey(number: str) -> str:
    return f"{SIGNATURE}请评价工单{number}的办理：回复1满意，2基本满意，3不满意。"
