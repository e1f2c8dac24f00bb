"""A labelled set of order pairs for the repeat/duplicate detector (benchmarks/repeats.py).

Hand-written incidents in 徐州's streets, each reported by three callers in their own words
(different wording, address detail and length). A pair is labelled a repeat when both orders
report the same incident, or the same caller comes back on the same problem; it is labelled
distinct when they only share a street, a category, a caller or some words. Pairs are built
from the incidents deterministically, so the set is the same on every run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Report:
    key: str
    content: str
    address: str
    division_code: str
    category_code: str | None
    caller_number: str
    hours: float  # when it was taken, hours after the set's start


# street code, category, [(address, content), ...] — three callers report each incident.
INCIDENTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "320302001",
        "020101",
        [
            ("中山北路88号和平小区", "和平小区从早上八点开始停水，到现在还没来水，家里老人做不了饭"),
            ("和平小区3号楼", "我们和平小区停水一整天了，也没有提前通知，什么时候恢复供水"),
            ("中山北路和平小区", "中山北路和平小区没水了，停了快十个小时，物业说不清楚原因"),
        ],
    ),
    (
        "320302001",
        "010101",
        [
            ("中山北路88号门口", "中山北路88号门口每天晚上有人摆摊卖烧烤，占道经营，油烟很大"),
            ("中山北路88号", "88号楼下烧烤摊占了人行道，行人只能走机动车道，很危险"),
            ("中山北路88号附近", "中山北路烧烤摊天天占道，晚上烟熏火燎，希望城管来管一管"),
        ],
    ),
    (
        "320302001",
        "030101",
        [
            ("黄楼街道淮海西路工地", "淮海西路工地夜里十二点还在施工，打桩声音很大，吵得睡不着"),
            ("淮海西路建设工地", "淮海西路那个工地半夜打桩，噪声扰民，已经连续三天了"),
            ("淮海西路工地旁边", "晚上工地施工噪音特别大，淮海西路附近居民都没法休息"),
        ],
    ),
    (
        "320302002",
        "010202",
        [
            ("丰财街道复兴南路", "复兴南路一整段路灯都不亮，晚上黑漆漆的，走路不安全"),
            ("复兴南路公交站附近", "复兴南路公交站那一片路灯坏了好几天，晚上看不清路"),
            ("复兴南路", "复兴南路的路灯晚上全灭了，骑车差点摔倒，请尽快修复"),
        ],
    ),
    (
        "320302002",
        "010203",
        [
            ("丰财街道民主北路", "民主北路人行道上有个井盖不见了，下面很深，容易掉人"),
            ("民主北路菜市场门口", "民主北路菜市场门口井盖缺失，只放了个塑料桶挡着"),
            ("民主北路", "民主北路井盖丢了一个，晚上有小孩经过很危险"),
        ],
    ),
    (
        "320302003",
        "010204",
        [
            ("琵琶街道琵琶路", "琵琶路下雨以后积水很深，下水道堵了，车都开不过去"),
            ("琵琶路与解放路交叉口", "琵琶路路口排水不畅，一下雨就淹，积水到膝盖"),
            ("琵琶路", "琵琶路积水排不出去，雨水井堵塞，行人只能蹚水"),
        ],
    ),
    (
        "320302003",
        "010302",
        [
            ("琵琶花园5号楼", "琵琶花园5号楼电梯坏了一个星期，物业一直不修，老人上不了楼"),
            ("琵琶花园小区", "我们小区5号楼的电梯停用好几天了，住18楼每天爬楼梯"),
            ("琵琶花园5号楼2单元", "5号楼电梯故障一直没人维修，物业推说等配件"),
        ],
    ),
    (
        "320302004",
        "020201",
        [
            ("牌楼街道牌楼市场", "牌楼市场周边大面积停电，冰柜里的货都要坏了"),
            ("牌楼市场东侧", "牌楼市场这边突然停电两个小时了，供电公司电话打不通"),
            ("牌楼市场", "牌楼市场停电到现在没恢复，商户损失很大"),
        ],
    ),
    (
        "320302004",
        "0501",
        [
            ("牌楼街道黄河路某饭店", "黄河路一家饭店卖的菜吃了拉肚子，后厨卫生很差"),
            ("黄河路饭店", "在黄河路那家饭店吃饭后全家腹泻，怀疑食品不干净"),
            ("黄河路", "黄河路饭店食品安全有问题，我们几个人吃完都肚子疼"),
        ],
    ),
    (
        "320302005",
        "010103",
        [
            ("铜沛街道铜沛路垃圾站", "铜沛路垃圾站的垃圾好几天没人清运，臭气熏天"),
            ("铜沛路垃圾中转站", "垃圾站满了溢到路上，铜沛路这边一直没人来拉"),
            ("铜沛路", "铜沛路垃圾堆成山，没人清理，夏天味道太大了"),
        ],
    ),
    (
        "320302005",
        "030102",
        [
            ("铜沛街道新城花园广场", "新城花园广场舞音响开得太大，每天晚上十点还在跳"),
            ("新城花园小区广场", "小区广场跳舞的音乐声太吵了，孩子没法写作业"),
            ("新城花园", "广场舞噪音扰民，新城花园居民晚上休息不好"),
        ],
    ),
    (
        "320302006",
        "010104",
        [
            ("环城街道环城路12号", "环城路12号一楼住户私自搭建彩钢房，占了消防通道"),
            ("环城路12号楼下", "12号楼下有人违章搭建棚子，挡住了消防车通道"),
            ("环城路12号", "环城路12号违建彩钢棚，举报违章搭建"),
        ],
    ),
    (
        "320302006",
        "0401",
        [
            ("环城街道环城路公交站", "8路公交车在环城路站经常不停站，等了半小时都没车"),
            ("环城路站台", "环城路站8路车过站不停，司机直接开走了"),
            ("环城路", "8路公交环城路这一站老是甩站，上班总迟到"),
        ],
    ),
    (
        "320302007",
        "020301",
        [
            ("九里街道九里山小区8号楼", "九里山小区8号楼楼道里有很大的煤气味，怀疑燃气泄漏"),
            ("九里山小区8号楼", "8号楼闻到燃气味道，很刺鼻，担心会爆炸"),
            ("九里山小区", "小区楼道燃气泄漏的味道，请燃气公司马上来检查"),
        ],
    ),
    (
        "320302007",
        "0601",
        [
            ("九里街道某装修公司", "九里街道一家装修公司拖欠我们工人三个月工资，老板不接电话"),
            ("九里街道装修公司", "装修公司欠薪，十几个工人的工资三个月没发了"),
            ("九里", "在九里的装修公司干活，工资一直拖着不给，要讨薪"),
        ],
    ),
    (
        "320303001",
        "010201",
        [
            ("彭城街道彭城路步行街", "彭城路步行街地砖大面积破损，坑坑洼洼，有老人摔倒"),
            ("彭城路步行街入口", "步行街入口路面破了好几个大坑，下雨积水"),
            ("彭城路", "彭城路步行街路面破损严重，希望尽快修补"),
        ],
    ),
    (
        "320303001",
        "0902",
        [
            ("彭城街道户部山附近", "户部山附近晚上有人聚众赌博，吵闹到凌晨"),
            ("户部山小区", "户部山小区里有人打牌赌博，晚上很吵还有人打架"),
            ("户部山", "举报户部山附近有赌博窝点，每天晚上很多人"),
        ],
    ),
    (
        "320303001",
        "0502",
        [
            ("彭城街道金鹰商场", "在金鹰商场买的羽绒服质量有问题，商家拒绝退货"),
            ("金鹰商场三楼", "金鹰商场一家店卖的羽绒服跑绒，要求退货被拒"),
            ("金鹰商场", "羽绒服刚穿一周就坏了，金鹰商场店家不给退换"),
        ],
    ),
    (
        "320371002",
        "0203",
        [
            ("东环街道东苑小区", "东苑小区天然气停了两天，做不了饭也洗不了澡"),
            ("东苑小区4栋", "我们东苑小区没有燃气了，燃气公司说管道维修"),
            ("东苑小区", "东苑小区停气两天了还没恢复，什么时候能通气"),
        ],
    ),
    (
        "320371002",
        "0204",
        [
            ("东环街道东苑小区", "东苑小区暖气不热，室内只有十二度，老人孩子受不了"),
            ("东苑小区6栋", "6栋暖气片冰凉，供暖温度不达标"),
            ("东苑小区", "小区供暖一直不热，交了暖气费还是冷"),
        ],
    ),
    (
        "320371002",
        "0701",
        [
            ("东环街道某培训机构", "东环街道一家培训机构收了学费突然关门，老板跑了"),
            ("东环路培训学校", "孩子报的培训班倒闭了，交的一万多学费退不回来"),
            ("东环", "培训机构卷款跑路，几十个家长的学费没退"),
        ],
    ),
    (
        "320302001",
        "0205",
        [
            ("黄楼街道和平小区", "和平小区宽带断网两天了，运营商一直说在修"),
            ("和平小区2号楼", "我们小区网络信号中断，家里宽带上不了网"),
            ("和平小区", "和平小区断网，在家上网课的孩子受影响"),
        ],
    ),
    (
        "320302002",
        "0801",
        [
            ("丰财街道某社区医院", "社区医院医生态度很差，排了两个小时队还被骂"),
            ("丰财社区卫生服务中心", "卫生服务中心看病排队太久，医生服务态度恶劣"),
            ("丰财街道社区医院", "投诉社区医院医生态度不好，对病人不耐烦"),
        ],
    ),
    (
        "320302003",
        "0302",
        [
            ("琵琶街道某烧烤店", "琵琶路一家烧烤店油烟直排，楼上住户窗户都不敢开"),
            ("琵琶路烧烤店", "烧烤店油烟污染，整栋楼都是烟味"),
            ("琵琶路", "楼下烧烤油烟没有净化设备，直接排到居民楼"),
        ],
    ),
    (
        "320302004",
        "0303",
        [
            ("牌楼街道故黄河边", "故黄河边有个排污口往河里排黑水，河水发臭"),
            ("故黄河牌楼段", "黄河牌楼段河水发黑发臭，有工厂偷排污水"),
            ("故黄河", "故黄河有人偷偷排放污水，水面漂着油污"),
        ],
    ),
    (
        "320302005",
        "0403",
        [
            ("铜沛街道铜沛路口", "铜沛路口红绿灯坏了，车辆乱走差点撞人"),
            ("铜沛路与建国路路口", "这个路口信号灯不亮，交通很乱"),
            ("铜沛路口", "铜沛路红绿灯故障，早高峰堵成一团"),
        ],
    ),
    (
        "320302006",
        "0602",
        [
            ("环城街道", "社保卡丢了想补办，不知道去哪里办理"),
            ("环城街道社区", "我的社保卡遗失了，怎么挂失补办"),
            ("环城", "社会保障卡丢失，请问补卡需要带什么材料"),
        ],
    ),
    (
        "320302007",
        "0702",
        [
            ("九里街道九里小学", "九里小学今年招生划片不合理，我们小区被划出去了"),
            ("九里小学", "孩子上小学划片问题，明明住得近却不能上九里小学"),
            ("九里", "九里小学学区划分有问题，要求重新核查"),
        ],
    ),
]

# Callers who come back on their own earlier order (催办): short, and in other words.
FOLLOW_UPS: list[tuple[int, str]] = [
    (0, "上午反映的停水还是没有来水，到底什么时候恢复"),
    (1, "之前投诉的烧烤摊今天晚上又出来了，还是占道"),
    (2, "工地夜间施工又开始了，上次反映了没有用"),
    (3, "前天说的路灯还是不亮，没人来修"),
    (6, "电梯到现在还没修好，上周已经打过电话"),
    (9, "垃圾站还是没人清运，再次反映"),
    (11, "违建的彩钢房还在，没有人来处理"),
    (13, "燃气味道还有，燃气公司的人还没来"),
    (14, "工资还是没要到，老板还是联系不上"),
    (18, "燃气还没恢复，已经第三天了"),
]


def build() -> tuple[list[Report], list[tuple[str, str, bool]]]:
    """The reports and the labelled pairs (earlier key, later key, is a repeat)."""
    reports: list[Report] = []
    by_incident: list[list[Report]] = []
    for i, (division, category, tellings) in enumerate(INCIDENTS):
        group = []
        for j, (address, content) in enumerate(tellings):
            caller = f"139{i:04d}{j:04d}"
            group.append(Report(f"i{i}r{j}", content, address, division, category, caller, 24.0 * i + 1.5 * j))
        by_incident.append(group)
        reports.extend(group)
    pairs: list[tuple[str, str, bool]] = []
    for group in by_incident:
        pairs.extend((a.key, b.key, True) for a, b in itertools.combinations(group, 2))
    for i, text in FOLLOW_UPS:
        first = by_incident[i][0]
        later = Report(f"f{i}", text, "", first.division_code, None, first.caller_number, first.hours + 20)
        reports.append(later)
        pairs.append((first.key, later.key, True))
    for (i, a), (k, b) in itertools.combinations(enumerate(by_incident), 2):
        same_street = INCIDENTS[i][0] == INCIDENTS[k][0]
        same_topic = INCIDENTS[i][1][:4] == INCIDENTS[k][1][:4]
        if same_street or same_topic:
            pairs.append((a[0].key, b[1].key, False))
            pairs.append((a[2].key, b[0].key, False))
        elif (i + k) % 7 == 0:
            pairs.append((a[1].key, b[2].key, False))
    # The same caller on an unrelated matter weeks later is not a repeat.
    for i in range(0, len(by_incident) - 1, 2):
        first, other = by_incident[i][0], by_incident[i + 1][1]
        later = Report(f"u{i}", other.content, other.address, other.division_code, other.category_code,
                       first.caller_number, first.hours + 24 * 10)  # fmt: skip
        reports.append(later)
        pairs.append((first.key, later.key, False))
    return reports, pairs


START_OFFSET = timedelta(days=40)  # the set starts this long before the evaluation time
