"""The words copy may use for a product's attributes, in English and Chinese, and the colours and materials it states.

A shop's attributes are "name:value" pairs such as "colour:white", "material:glass" or "theme:Christmas" (the
retail shop derives them from product names). :data:`ATTRIBUTE_WORDS_ZH` gives the Chinese words for the
values (white 白色, glass 玻璃, Christmas 圣诞) so a Chinese prompt can describe the product in Chinese while
naming it in English, exactly as the catalog does.

:func:`appearance_terms` finds the colours and materials a text states, in either language, so grounding can
reject a colour or material the product does not have. Words that are ambiguous in ordinary prose ("felt",
"clear", "crystal clear", "china", "a blank canvas") are recognised (so a longer term is not misread as a shorter
one) but never reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from pydantic import BaseModel


class AppearanceTerm(BaseModel):
    """One colour or material: its English words (regex), Chinese words, and whether copy is checked for it.

    Attributes:
        kind: "colour" or "material".
        english: Regex of its English words (whole words, optional plural), or "" when English is not checked.
        chinese: Its Chinese words, the first being the one prompts use.
        checked: False when a word is too ambiguous in prose to tell a false claim (then it is only recognised).
    """

    kind: str
    english: str
    chinese: tuple[str, ...]
    checked: bool = True


def _colour(english: str, *chinese: str, checked: bool = True) -> AppearanceTerm:
    return AppearanceTerm(kind="colour", english=english, chinese=chinese, checked=checked)


def _material(english: str, *chinese: str, checked: bool = True) -> AppearanceTerm:
    return AppearanceTerm(kind="material", english=english, chinese=chinese, checked=checked)


# Keyed by the value the shop's attributes use (colour and material values of the retail catalog).
APPEARANCE_TERMS: dict[str, AppearanceTerm] = {
    "white": _colour("white", "白色", "纯白"),
    "black": _colour("black", "黑色"),
    "red": _colour("red", "红色"),
    "pink": _colour("pink", "粉色", "粉红色", "粉红"),
    "blue": _colour("blue", "蓝色"),
    "green": _colour("green", "绿色"),
    "yellow": _colour("yellow", "黄色"),
    "purple": _colour("purple", "紫色"),
    "orange": _colour("orange", "橙色"),
    "brown": _colour("brown", "棕色", "咖啡色", "褐色"),
    "grey": _colour("gr[ae]y", "灰色"),
    "ivory": _colour("ivory", "象牙白", "象牙色"),
    "cream": _colour("cream", "奶油色", "米白色"),
    "beige": _colour("beige", "米色"),
    "gold": _colour("gold", "金色"),
    "rose gold": _colour("rose[- ]gold", "玫瑰金"),
    "silver": _colour("silver", "银色"),
    "turquoise": _colour("turquoise", "绿松石色", "青绿色"),
    "lilac": _colour("lilac", "淡紫色"),
    "amber": _colour("amber", "琥珀色"),
    "aqua": _colour("aqua", "水绿色"),
    "fuchsia": _colour("fuchsia", "紫红色"),
    "magenta": _colour("magenta", "洋红色"),
    "teal": _colour("teal", "蓝绿色"),
    "navy": _colour("navy", "藏青色", "海军蓝"),
    "burgundy": _colour("burgundy", "酒红色"),
    "coral": _colour("coral", "珊瑚色"),
    "khaki": _colour("khaki", "卡其色"),
    "copper": _colour("copper", "铜色", "紫铜"),
    "bronze": _colour("bronze", "青铜色", "古铜色"),
    "lavender": _colour("", "薰衣草紫", "薰衣草色"),
    "mint": _colour("", "薄荷绿"),
    "peach": _colour("", "桃色", "蜜桃色"),
    "violet": _colour("", "紫罗兰色"),
    "multicolour": _colour("multi-?colou?r(?:ed)?", "多色", "彩色", checked=False),
    "pastel": _colour("pastel", "粉彩色", checked=False),
    "clear": _colour("", "透明", checked=False),
    "natural": _colour("", "原色", checked=False),
    "glass": _material("glass", "玻璃"),
    "metal": _material("metal", "金属"),
    "ceramic": _material("ceramic", "陶瓷"),
    "porcelain": _material("porcelain", "瓷器"),
    "china": _material("bone china", "骨瓷"),
    "stoneware": _material("stoneware", "炻器"),
    "terracotta": _material("terracotta", "陶土", "赤陶"),
    "wood": _material("wood(?:en)?", "木质", "木制", "实木", "木头"),
    "zinc": _material("zinc", "锌"),
    "tin": _material("tin", "马口铁", "铁皮", "锡制", "锡"),
    "pewter": _material("pewter", "锡镴"),
    "enamel": _material("enamel(?:led)?", "搪瓷", "珐琅"),
    "iron": _material("(?:cast |wrought )?iron", "铁艺", "铁制", "铸铁"),
    "aluminium": _material("alumin(?:i)?um", "铝制"),
    "brass": _material("brass", "黄铜制", "黄铜"),
    "steel": _material("(?:stainless )?steel", "不锈钢", "钢制"),
    "wire": _material("", "金属丝", "铁丝"),
    "paper": _material("paper", "纸质", "纸制"),
    "cardboard": _material("cardboard", "纸板"),
    "papier mache": _material("papier[- ]m[aâ]ch[eé]", "纸浆"),
    "cotton": _material("cotton", "棉质", "纯棉", "棉布"),
    "linen": _material("linen", "亚麻"),
    "wool": _material("wool(?:len)?", "羊毛"),
    "silk": _material("silk", "丝绸", "真丝"),
    "velvet": _material("velvet", "天鹅绒", "丝绒"),
    "lace": _material("lace", "蕾丝"),
    "denim": _material("denim", "牛仔布"),
    "polyester": _material("polyester", "涤纶"),
    "jute": _material("jute", "黄麻"),
    "hessian": _material("hessian", "粗麻布"),
    "sisal": _material("sisal", "剑麻"),
    "leather": _material("leather", "皮革", "真皮"),
    "wicker": _material("wicker", "柳编", "柳条"),
    "rattan": _material("rattan", "藤编", "藤制"),
    "bamboo": _material("bamboo", "竹制", "竹子"),
    "cork": _material("cork", "软木"),
    "plastic": _material("plastic", "塑料"),
    "acrylic": _material("acrylic", "亚克力"),
    "melamine": _material("melamine", "密胺"),
    "silicone": _material("silicone", "硅胶"),
    "rubber": _material("rubber", "橡胶"),
    "vinyl": _material("vinyl", "乙烯基"),
    "resin": _material("resin", "树脂"),
    "marble": _material("marble", "大理石"),
    "felt": _material("", "毛毡"),
    "crystal": _material("", "水晶"),
    "pearl": _material("", "珍珠"),
    "shell": _material("", "贝壳"),
    "diamante": _material("diamant[eé]", "水钻"),
    "slate": _material("", "石板"),
    "stone": _material("", "石材"),
    "straw": _material("", "草编"),
    "seagrass": _material("seagrass", "海草"),
    "beads": _material("", "串珠"),
    "sequins": _material("sequin(?:ned)?", "亮片"),
    "glitter": _material("glitter", "闪粉"),
    "canvas": _material("", "帆布"),
    "fabric": _material("", "布艺"),
    "flock": _material("", "植绒"),
    "chenille": _material("chenille", "雪尼尔"),
    "crochet": _material("crochet(?:ed)?", "钩针"),
    "raffia": _material("raffia", "拉菲草"),
    "oilcloth": _material("oilcloth", "油布"),
    "mosaic": _material("", "马赛克"),
}

_PATTERNS_ZH: dict[str, str] = {
    "polka dot": "波点", "paisley": "佩斯利花纹", "gingham": "格纹", "striped": "条纹", "floral": "花卉图案",
    "check": "格子", "tartan": "苏格兰格纹", "animal print": "动物纹", "damask": "大马士革花纹", "toile": "法式印花",
    "lattice": "格栅纹", "honeycomb": "蜂窝纹", "swirl": "漩涡纹", "chevron": "人字纹", "patchwork": "拼布",
    "folk art": "民间艺术", "baroque": "巴洛克", "filigree": "花丝", "union jack": "英国国旗", "camouflage": "迷彩",
    "harlequin": "菱格纹", "fair isle": "费尔岛花纹",
}  # fmt: skip
_THEMES_ZH: dict[str, str] = {
    "christmas": "圣诞", "easter": "复活节", "halloween": "万圣节", "love": "爱心", "valentine": "情人节",
    "birthday": "生日", "party": "派对", "wedding": "婚礼", "vintage": "复古", "kids": "儿童", "garden": "花园",
    "baking": "烘焙", "tea time": "下午茶", "british": "英伦", "seaside": "海滨", "floral": "花卉", "animals": "动物",
}  # fmt: skip

ATTRIBUTE_WORDS_ZH: dict[str, str] = {
    **{value: term.chinese[0] for value, term in APPEARANCE_TERMS.items()},
    **_PATTERNS_ZH,
    **_THEMES_ZH,
}
"""Chinese word for an attribute value (key: the value in lower case), e.g. white 白色, glass 玻璃, Christmas 圣诞."""

_KIND_ZH = {"colour": "颜色", "material": "材质", "pattern": "图案", "theme": "主题"}


def split_attribute(attribute: str) -> tuple[str, str]:
    """Split "name:value" into (name, value); an attribute without a name gets the name ""."""
    name, _, value = attribute.partition(":")
    return (name.strip(), value.strip()) if value else ("", name.strip())


def attribute_words(attributes: Iterable[str], language: str) -> list[str]:
    """Describe attributes in words for a prompt: "colour white" in English, "白色" in Chinese.

    The ``type`` attribute is left out (the product name already says what it is). A Chinese value without a
    word in :data:`ATTRIBUTE_WORDS_ZH` keeps its English value.

    Args:
        attributes: "name:value" strings.
        language: "en" or "zh".

    Returns:
        One description per attribute, in order, without repeats.
    """
    words = []
    for attribute in attributes:
        name, value = split_attribute(attribute)
        if name == "type" or not value:
            continue
        if language == "zh":
            words.append(ATTRIBUTE_WORDS_ZH.get(value.casefold(), value))
        else:
            words.append(f"{name} {value}" if name else value)
    return list(dict.fromkeys(words))


@lru_cache(maxsize=1)
def _scanners() -> tuple[re.Pattern[str], dict[str, str], re.Pattern[str], dict[str, str]]:
    """Return (English pattern, group → value, Chinese pattern, word → value), longest alternatives first."""
    english = {f"t{i}": (value, term.english) for i, (value, term) in enumerate(APPEARANCE_TERMS.items())
               if term.english}
    ordered = sorted(english.items(), key=lambda item: len(item[1][1]), reverse=True)
    en_pattern = re.compile("|".join(rf"\b(?P<{group}>{regex})(?:e?s)?\b" for group, (_, regex) in ordered),
                            re.IGNORECASE)
    chinese = {word: value for value, term in APPEARANCE_TERMS.items() for word in term.chinese}
    zh_pattern = re.compile("|".join(re.escape(w) for w in sorted(chinese, key=len, reverse=True)))
    return en_pattern, {g: v for g, (v, _) in english.items()}, zh_pattern, chinese


def appearance_terms(text: str, checked_only: bool = False) -> dict[str, str]:
    """Return the colours and materials ``text`` states, as {attribute value: the words as written}.

    Longer terms win ("rose gold" is not "gold", "粉红色" is pink, not red).

    Args:
        text: Any text: copy, a product name, attribute values.
        checked_only: Leave out terms too ambiguous in prose to count as a claim (:attr:`AppearanceTerm.checked`).

    Returns:
        Attribute value → first match as written.
    """
    en_pattern, groups, zh_pattern, chinese = _scanners()
    found: dict[str, str] = {}
    for match in en_pattern.finditer(text):
        found.setdefault(groups[str(match.lastgroup)], match.group(0))
    for match in zh_pattern.finditer(text):
        found.setdefault(chinese[match.group(0)], match.group(0))
    if checked_only:
        found = {value: words for value, words in found.items() if APPEARANCE_TERMS[value].checked}
    return found


def appearance_kind(value: str) -> str:
    """Return "colour" or "material" for a value of :data:`APPEARANCE_TERMS`."""
    return APPEARANCE_TERMS[value].kind


def kind_zh(name: str) -> str:
    """Return the Chinese word for an attribute name ("colour" → "颜色"), or the name itself."""
    return _KIND_ZH.get(name, name)
