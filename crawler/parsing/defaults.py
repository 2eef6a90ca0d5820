"""Default wording of the site: the text patterns :class:`~crawler.parsing.rules.ParseRules`
starts from (footer, furniture, navigation, masthead, error pages, attachment URLs).

Pure data. Patterns are matched against line *keys* (simplified Chinese, pinyin notes
removed: crawler.textnorm), so traditional copies of a page match them too.
"""

from __future__ import annotations

COLON = r"\s*[:：]\s*"

FOOTER = (
    r"^\[\s*版权声明\s*\]",
    r"^沪\s*ICP\s*备\s*\d+",
    r"^沪公网安备",
    r"^技术服务" + COLON + r".{0,40}(?:公司|上海同道)",
    r"^技术电话" + COLON + r"[\d\s()（）:：,，\-]{7,}",
    r"^技术支持邮箱" + COLON + r"\S+@\S+",
    # `©` becomes `?` on mirrors; the year range changes over time.
    r"^上海市律师协会\s*版权所有",
    r"^版权所有\s*(?:[©?]|\(c\)|&copy;)?\s*(?:\d{4}|上海市律师协会)",
)

FURNITURE = (
    r"^\[?\s*更多\s*\]?$",
    r"^.{0,20}\[\s*更多\s*\]$",
    r"^\[?\s*请点击此处反馈\s*\]?$",
    r"^.{0,30}\[\s*请点击此处反馈\s*\]$",
    r"^常用工具(?:\s*\[?\s*更多\s*\]?)?$",
    # Items of the 常用工具 box; a line made only of them is the box.
    r"^(?:(?:城市地图查询|诉讼费计算器|律师费计算器|利息计算器|违约金计算器|工伤赔偿计算器|交通事故赔偿计算器|"
    r"个税计算器|个人所得税计算器|法律法规查询|律师查询|律所查询|律师事务所查询|邮编查询|区号查询|"
    r"天气查询|列车时刻查询|航班查询|日期计算器|房贷计算器)\s*)+$",
    # Boxes of sponsoring units that sit before the title on older pages.
    r"^(?:主办|协办|支持|承办)单位" + COLON,
    r"^(?:分享到|打印本页|关闭窗口|返回顶部|【\s*打印\s*】|【\s*关闭\s*】)\s*[:：]?$",
    r"^(?:上一篇|下一篇)" + COLON,
)

# The top bar's service links (the parser's navigation, discovery's never-a-list).
TOP_BAR_SERVICES = (
    "申请实习证",
    "两公律师考核申请",
    "两公律师转社会律师申请",
    "注销人员证明申请入口",
    "结业人员实习鉴定表申请入口",
    "网上投稿",
)

# Top-bar and navigation entries. A line made only of these tokens is navigation
# (the top bar changes between fetches without the article changing).
NAV_TOKENS = (
    *TOP_BAR_SERVICES,
    "《上海律师》",
    "ENGLISH",
    "English",
    "切换新版",
    "切换旧版",
    "首页",
    "协会介绍",
    "行业党建",
    "行业资讯",
    "业务研究",
    "律师文化",
    "会员服务",
    "执业证号/统一社会信用代码",
    "执业证号",
    "统一社会信用代码",
    "密码",
    "会员须知",
    "登录",
    "注册",
    "忘记密码",
    "退出",
    "|",
    "｜",
    "/",
)

# Structural mode only: once some body text is collected these lines end the body,
# because the boxes they head come after the article.
STOP = (
    r"^常用工具",
    r"^\[?\s*请点击此处反馈\s*\]?$",
    r"^(?:相关文章|相关阅读|相关新闻|热点推荐|推荐阅读)\s*[:：]?$",
    r"^(?:上一篇|下一篇)" + COLON,
)

# The magazine's masthead block: `《上海律师》编委会` then one role per line.
MASTHEAD_START = r"^《上海律师》\s*编委会"
MASTHEAD_LINE = (
    r"^(?:名誉主任|主\s*任|副主任|主\s*编|副主编|执行主编|编\s*委|委\s*员|编辑部主任|编辑部副主任|"
    r"责任编辑|编\s*辑|美术编辑|编务|顾\s*问|社\s*长|副社长|总编辑|副总编辑|地\s*址|电\s*话|邮\s*编|"
    r"传\s*真|网\s*址|电子信箱|E-?mail|邮\s*箱|出版|印刷|发行|定价|刊号)\s*[:：]"
)

# Error pages served with status 200 (soft 404s) must not become records.
NOT_FOUND = (
    r"^(?:404|403|500)(?:\s|$)",
    r"页面不存在|已被删除|不存在或已|找不到(?:该|此|您要访问的)?(?:页面|文章|信息)",
)

ATTACHMENTS = (
    r"^https?://(?:[\w-]+\.)*lawyers\.org\.cn(?::\d+)?/service/rest/tk\.File/[0-9A-Fa-f]+/view",
    r"^https?://byfiles\.storage\.lawyers\.org\.cn(?::\d+)?/file/\?(?:[^#]*&)?action=download(?:&|$)",
)
