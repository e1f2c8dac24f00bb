"""Communities and villages from JioNLP's location tree (its file format, a small sample)."""

from __future__ import annotations

from pathlib import Path

from dispatch.divisions import read_divisions
from dispatch.jionlp_places import match_tree, read_tree
from dispatch.resolver import Resolver

CHENGDU = Path(__file__).parent / "data" / "cities" / "chengdu" / "divisions.csv"
# Province / city / county carry codes; towns and villages only names; CRLF as shipped.
SAMPLE = "\r\n".join(
    [
        "四川省\t510000\t四川",
        "\t成都市\t510100\t成都",
        "\t\t郫都区\t510117\t郫都",
        "\t\t\t犀浦镇",  # our 犀浦街道 since it became a subdistrict
        "\t\t\t\t犀浦村",
        "\t\t\t\t东村",  # too short to name one place
        "\t\t\t\t红旗社区",
        "\t\t\t团结街道",
        "\t\t\t\t红旗社区",  # the same name under a second street
        "\t\t\t古城镇",  # merged away: kept as a former name of the district
        "\t\t\t\t古城村",
        "\t\t锦江区\t510104\t锦江",
        "\t\t\t成都高新技术产业开发区",
        "\t\t\t\t某某社区",
        "\t\t双流县\t510122\t双流",  # a county code we do not have: skipped
        "\t\t\t\t双流村",
    ]
)


def test_towns_match_our_streets_by_name_without_suffix() -> None:
    m = match_tree(SAMPLE, read_divisions(CHENGDU))
    got = {(p.name, p.kind): p.division_codes for p in m.places}
    assert got[("犀浦村", "village")] == ("510117006",)
    assert got[("红旗社区", "community")] == ("510117006", "510117009")
    assert got[("古城镇", "former")] == ("510117",)
    assert got[("成都高新技术产业开发区", "zone")] == ("510104",)
    assert ("东村", "village") not in got and ("双流村", "village") not in got
    assert m.towns_matched == 2 and m.towns_unmatched == ["古城镇", "成都高新技术产业开发区"]


def test_matched_places_route(tmp_path: Path) -> None:
    tree = tmp_path / "china_location.txt"
    tree.write_text(SAMPLE, encoding="utf-8")
    divisions = read_divisions(CHENGDU)
    resolver = Resolver(divisions, places=match_tree(read_tree(tree), divisions).places)
    assert resolver.resolve("郫都区犀浦村三组").code == "510117006"
    shared = resolver.resolve("红旗社区门口")  # two streets of one district: the district
    assert shared.code == "510117" and shared.confidence < 0.8
