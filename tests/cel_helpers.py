"""Facts files of the Asterisk recordings (../shared/asterisk, copied under tests/data), read
the way their README describes them, for checks that hold on any recording of that Asterisk."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from adapters.cel.interpreter import interface_of


def asterisk_dir(shared_dir: Path) -> Path:
    return shared_dir / "asterisk"


def facts(shared_dir: Path, scenario: str) -> list[dict[str, Any]]:
    """``calls[]`` of ``scenario.facts.json``: per call its ``ami``, ``cel`` and ``queue_log`` views."""
    data = json.loads((asterisk_dir(shared_dir) / f"{scenario}.facts.json").read_text(encoding="utf-8"))
    return data["calls"]


def agent_number(interface: str) -> str:
    """``Local/1001@agents`` / ``Local/1001@agents/n`` → ``1001`` (how the facts name agents)."""
    return interface_of(interface).split("/", 1)[1].split("@", 1)[0]


def kpis_from_facts(calls: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """KPIs counted per segment from the facts: per queue offered (one per queue a call was in),
    answered, abandoned and ASA (AgentComplete HoldTime, measured from that queue's own join);
    per agent answered and AHT (the agent's own bridge time)."""
    queues: dict[str, dict[str, Any]] = defaultdict(lambda: {"offered": 0, "answered": 0, "abandoned": 0, "holds": []})
    agents: dict[str, dict[str, Any]] = defaultdict(lambda: {"answered": 0, "talks": []})
    for call in calls:
        ami, cel = call["ami"], call["cel"]
        for queue in cel["queues"]:
            queues[queue]["offered"] += 1
        answered_in = {leg["queue"] for leg in cel["legs"]}
        for queue in dict.fromkeys(cel["queues"]):
            if queue not in answered_in:
                queues[queue]["abandoned"] += 1
        for leg in ami["legs"]:
            queues[leg["queue"]]["answered"] += 1
            queues[leg["queue"]]["holds"].append(leg["holdtime"])
        for leg in cel["legs"]:
            agents[leg["agent"]]["answered"] += 1
            agents[leg["agent"]]["talks"].append(leg["talk_measured"])
    return dict(queues), dict(agents)
