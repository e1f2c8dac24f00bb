"""What citizens call about in the demo: real kinds of 12345 requests across 徐州's districts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    kind: str
    category_code: str
    content: str
    address: str
    urgency: str = "normal"


REQUESTS: list[Request] = [
    Request("complaint", "010101", "小区门口夜市占道经营，油烟和噪声扰民", "鼓楼区黄楼街道中山北路88号小区门口"),
    Request("complaint", "030102", "楼下广场舞音响太响，晚上十点还没停", "云龙区彭城街道民主南路12号"),
    Request("help", "020101", "家里突然停水，没有接到任何通知", "泉山区王陵街道王陵路5号", "urgent"),
    Request("complaint", "010202", "路灯一整排不亮，晚上走路不安全", "铜山区张双楼街道张双楼村东"),
    Request("consult", "0602", "咨询灵活就业人员医保怎么缴费", ""),
    Request("complaint", "0601", "工地拖欠农民工工资三个月未发", "贾汪区老矿街道工人路工地"),
    Request("report", "0501", "菜市场有摊位销售过期熟食", "丰县中阳里街道菜市场"),
    Request("complaint", "010302", "电梯经常困人，物业不维修", "沛县沛城街道汉城小区3号楼"),
    Request("suggestion", "0401", "建议增加早高峰公交班次", "睢宁县睢城街道"),
    Request("complaint", "030101", "工地夜间施工噪声，凌晨还在打桩", "经济技术开发区金山桥街道"),
    Request("help", "020201", "整栋楼停电，家里有老人需要吸氧", "新沂市新安街道人民路", "urgent"),
    Request("complaint", "010103", "小区垃圾三天没人清运，气味很大", "邳州市运河街道建设路小区"),
    Request("consult", "0702", "咨询小学入学需要准备哪些材料", ""),
    Request("complaint", "010204", "下雨后路面积水严重，排水不畅", "鼓楼区丰财街道下淀路"),
    Request("complaint", "0103", "物业收费不公示，业主有意见", "云龙区子房街道子房山小区"),
    Request("help", "020301", "闻到楼道里有燃气味道", "泉山区七里沟街道七里沟小区", "emergency"),
    Request("report", "0902", "有人在桥下聚众赌博", "铜山区三河尖街道"),
    Request("praise", "0801", "表扬市中心医院急诊科医生认真负责", ""),
    Request("complaint", "010104", "楼顶违章搭建阳光房", "沛县大屯街道大屯小区"),
    Request("complaint", "0502", "网购家电退货遇到推诿", ""),
]
