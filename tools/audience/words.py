"""The phrases that name audience values, in English and Chinese, and the filler words around them.

Each table maps a value in the index's spelling (a genre, region, lifecycle stage, gender, spend band or
occupation) to the phrases a marketer may use for it, e.g. "Sci-Fi" ← "science fiction", "sci-fi", "科幻".
:mod:`tools.audience.terms` reads a description with these tables; a value the shop does not have is
reported there, never produced.
"""

from __future__ import annotations

import re

GENRE_WORDS: dict[str, tuple[str, ...]] = {
    "Sci-Fi": ("science fiction", "science-fiction", "sci-fi", "sci fi", "scifi", "科幻"),
    "Documentary": ("documentaries", "documentary", "docs", "docos", "纪录片", "纪录"),
    "Comedy": ("comedies", "comedy", "comedic", "喜剧"),
    "Horror": ("horror", "scary movies", "恐怖"),
    "Thriller": ("thrillers", "thriller", "惊悚"),
    "Action": ("action", "动作"),
    "Adventure": ("adventures", "adventure", "冒险"),
    "Animation": ("animation", "animated", "cartoons", "anime", "动画", "动漫"),
    "Children's": ("children's", "childrens", "kids", "family films", "儿童", "少儿", "亲子"),
    "Crime": ("crime", "gangster", "犯罪"),
    "Drama": ("dramas", "drama", "剧情"),
    "Fantasy": ("fantasy", "奇幻", "魔幻"),
    "Film-Noir": ("film noir", "film-noir", "noir", "黑色电影"),
    "Musical": ("musicals", "musical", "音乐剧", "歌舞"),
    "Mystery": ("mysteries", "mystery", "whodunits", "悬疑", "推理"),
    "Romance": ("romance", "romantic", "romcoms", "rom-coms", "love stories", "爱情", "浪漫"),
    "War": ("war", "战争"),
    "Western": ("westerns", "western", "西部片", "西部电影"),
}
REGION_WORDS: dict[str, tuple[str, ...]] = {
    "Northeast": ("north-east", "north east", "northeast", "new england", "东北部", "东北"),
    "Southeast": ("south-east", "south east", "southeast", "东南部", "东南"),
    "Midwest": ("mid-west", "mid west", "midwest", "中西部"),
    "South Central": ("south-central", "south central", "中南部"),
    "Central": ("central", "中部"),
    "Mountain": ("mountain states", "mountain", "rockies", "山区", "山地"),
    "West": ("west coast", "west", "pacific", "西部"),
    "outside US": (
        "outside the us",
        "outside us",
        "abroad",
        "overseas",
        "international",
        "canada",
        "海外",
        "国外",
        "美国以外",
    ),
}
LIFECYCLE_WORDS: dict[str, tuple[str, ...]] = {
    "lapsed": ("lapsed", "inactive", "churned", "dormant", "win-back", "win back", "不活跃", "已流失", "流失", "沉睡"),
    "new": ("new customers", "new users", "new buyers", "new members", "newcomers", "first-time", "新客户", "新顾客",
            "新用户", "新会员", "新客"),
    "active": ("active", "engaged", "活跃"),
}  # fmt: skip
GENDER_WORDS: dict[str, tuple[str, ...]] = {
    "F": ("women", "woman", "female", "females", "ladies", "女性", "女士", "女生", "女顾客"),
    "M": ("men", "man", "male", "males", "gentlemen", "男性", "男士", "男生", "男顾客"),
}
SPEND_WORDS: dict[str, tuple[str, ...]] = {
    "high": ("big spenders", "high spenders", "top spenders", "high-value", "high value", "high spend", "vips",
             "vip", "高消费", "高价值", "大客户"),
    "medium": ("mid spenders", "medium spenders", "average spenders", "medium spend", "中等消费"),
    "low": ("low spenders", "small spenders", "low-value", "low value", "low spend", "bargain hunters", "低消费",
            "低价值"),
}  # fmt: skip
OCCUPATION_WORDS: dict[str, tuple[str, ...]] = {
    "student": ("students", "学生"), "programmer": ("programmers", "程序员"), "engineer": ("engineers", "工程师"),
    "educator": ("educators", "teachers", "教师", "老师"), "doctor": ("doctors", "医生"),
    "lawyer": ("lawyers", "律师"),
    "writer": ("writers", "作家"), "artist": ("artists", "艺术家"), "retired": ("retirees", "retired", "退休"),
    "scientist": ("scientists", "科学家"), "librarian": ("librarians", "图书管理员"),
    "homemaker": ("homemakers", "家庭主妇"), "executive": ("executives", "高管"),
    "technician": ("technicians", "技术员"),
}  # fmt: skip
#: Chinese filler: particles, punctuation and words like 粉丝 (fans) that carry no audience meaning.
ZH_FILLER = re.compile(
    r"[的和与及或、，,。.！!？?\s]|爱好者|粉丝|影迷|喜欢|喜爱|用户|客户|顾客|人群|住在|位于|地区|区域|年龄|岁|在|里|中|片|电影|影片|的人"
)
#: English words dropped from the ends of the ranking text (and from the English words of a Chinese description).
EN_FILLER = {"in", "the", "from", "of", "and", "or", "who", "are", "aged", "age", "living", "with", "a", "an", "to",
              "customers", "customer", "people", "audience", "users", "region", "area", "years", "old", "that",
              "live", "segment"}  # fmt: skip
