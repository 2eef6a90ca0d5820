"""Chinese full-text search over the archive.

Why not SQLite's own tokenizers: ``unicode61`` makes a whole run of Chinese characters one
token (so 律师 is not found inside 上海市律师协会), and ``trigram`` cannot match the
one- and two-character words that most Chinese words are. So the text is folded and
spaced here, in Python, and ``unicode61`` then only has to split on spaces: every CJK
character is its own token (Latin words and numbers stay whole). A Chinese query term
becomes an FTS5 *phrase of single characters*, which is exact substring semantics for a
term of any length: 律, 律师, 律工委, 宝山区律师工作委员会 are all found wherever they occur,
inside longer words too. No word segmenter is needed to match, so none is loaded: jieba
(schema 2) only nudged the ranking and cost 68 MiB and 0.7 s in every process.

Both the index and every query go through the same :func:`fold_text` (NFKC, lower case, a
small traditional-to-simplified table, pinyin annotations of mirror copies dropped), so a
simplified query finds the traditional mirror copy of an article, and ＩＣＰ finds ICP.

One index table, contentless (the text lives once, in ``articles``):
``articles_fts(body, title)``, whose rowid is ``articles.rowid``, so Datasette's
``fts_table`` search box works. A contentless table forgets a row only when given exactly
the text it indexed; ``articles_fts_map`` records which article each index row holds and a
checksum of that text, and every update recomputes the old text from the old row in the
same transaction. Opening an archive never scans the index; a crawl's open checks it in
SQL and rebuilds it when it cannot be kept up row by row (``barwatch reindex`` does the same on demand).
"""
from __future__ import annotations

import hashlib
import re
import sqlite3
import unicodedata
import zlib
from collections.abc import Callable
from datetime import date

from storage.textops import clean_text, one_line

FTS_TABLE = "articles_fts"
_OLD_MAP_TABLE = "articles_fts_map"  # schema 2 kept index bookkeeping here; now in articles
SLOTS_PER_DAY = 256
_NO_MATCH = '""'  # an empty FTS5 phrase: valid, and matches no row
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
# A query matching more articles than this is ranked among its newest this many matches:
# bm25 over every match of 律师 (all 100,000 articles) takes a quarter of a second, over
# the newest 10,000 a fortieth (scripts/benchmark.py).
RANK_WINDOW = 10_000
# The index's columns with their bm25 weights. A term in the title weighs a thousand
# hits in the body: bm25 saturates, so this puts every article with the term in its title
# above every article with it only in the body, and more terms in the title above fewer.
# Body first: FTS5 marks every position list outside column 0 with the column's number,
# and bodies hold most of the tokens (a quarter of the index saved).
INDEX_COLUMNS = (("body", 1.0), ("title", 1000.0))
# Keys in the meta table: the folding the index was built with, and why it must be rebuilt.
SEGMENTER_KEY = "search_segmenter"
DIRTY_KEY = "search_dirty"
# Bump when folding changes in a way that needs existing rows re-indexed.
_CODE_VERSION = "3"
Progress = Callable[[int, int], None]
MAX_TERMS = 32
DEFAULT_MARKERS = ("【", "】")

# ---------------------------------------------------------------------------- folding
# Traditional -> simplified, one character to one character, for the characters that
# occur in the association's texts and their mirror copies (district names, legal and
# administrative vocabulary). Not a full converter: enough that a simplified query finds a
# traditional copy. Characters whose traditional form is also an ordinary simplified
# character with another meaning (著, 乾, 覆, 瞭 ...) are left out on purpose.
_TRAD_SIMP_PAIRS = """
愛爱 罷罢 備备 貝贝 筆笔 畢毕 邊边 變变 標标 別别 賓宾 補补 財财 參参 蠶蚕 倉仓 層层 產产 長长
場场 廠厂 車车 徹彻 塵尘 陳陈 稱称 懲惩 誠诚 遲迟 齒齿 衝冲 蟲虫 醜丑 處处 觸触 傳传 創创 詞词
從从 聰聪 叢丛 湊凑 達达 帶带 貸贷 單单 擔担 膽胆 當当 黨党 導导 燈灯 鄧邓 敵敌 遞递 點点 電电
調调 鐵铁 聽听 廳厅 頭头 圖图 團团 東东 動动 凍冻 鬥斗 獨独 讀读 斷断 隊队 對对 噸吨 奪夺 惡恶
兒儿 爾尔 發发 罰罚 閥阀 範范 飯饭 訪访 紡纺 飛飞 廢废 費费 紛纷 墳坟 奮奋 憤愤 糞粪 豐丰 風风
鳳凤 膚肤 婦妇 復复 複复 負负 該该 蓋盖 幹干 趕赶 岡冈 剛刚 鋼钢 崗岗 個个 給给 鞏巩 貢贡 構构
購购 穀谷 顧顾 關关 觀观 館馆 慣惯 廣广 規规 歸归 龜龟 軌轨 櫃柜 貴贵 國国 過过 漢汉 號号 後后
護护 華华 劃划 畫画 話话 壞坏 歡欢 環环 還还 換换 黃黄 揮挥 輝辉 會会 匯汇 彙汇 夥伙 貨货 獲获
機机 積积 極极 級级 擊击 績绩 際际 濟济 幾几 紀纪 記记 計计 繼继 夾夹 價价 駕驾 堅坚 間间 監监
減减 檢检 簡简 見见 薦荐 鑒鉴 鑑鉴 艦舰 將将 獎奖 講讲 膠胶 驕骄 較较 轎轿 階阶 節节 結结 潔洁
屆届 緊紧 僅仅 盡尽 儘尽 進进 經经 驚惊 競竞 舊旧 舉举 據据 劇剧 決决 覺觉 軍军 開开 凱凯 殼壳
課课 懇恳 塊块 寬宽 礦矿 虧亏 擴扩 闊阔 蘭兰 藍蓝 覽览 攔拦 爛烂 勞劳 樂乐 淚泪 類类 離离 禮礼
裡里 裏里 歷历 曆历 勵励 麗丽 聯联 連连 臉脸 練练 煉炼 糧粮 兩两 輛辆 諒谅 療疗 遼辽 獵猎 臨临
鄰邻 靈灵 齡龄 領领 劉刘 龍龙 樓楼 錄录 陸陆 論论 羅罗 邏逻 驢驴 呂吕 綠绿 濾滤 媽妈 馬马 嗎吗
買买 賣卖 滿满 貓猫 麼么 沒没 門门 們们 夢梦 彌弥 謎谜 綿绵 緬缅 廟庙 滅灭 憫悯 閩闽 鳴鸣 銘铭
謀谋 畝亩 納纳 難难 腦脑 鬧闹 內内 擬拟 釀酿 鳥鸟 寧宁 農农 濃浓 歐欧 盤盘 賠赔 噴喷 鵬鹏 騙骗
頻频 貧贫 評评 憑凭 齊齐 騎骑 豈岂 啟启 啓启 氣气 棄弃 牽牵 鉛铅 遷迁 簽签 錢钱 淺浅 槍枪 牆墙
強强 搶抢 橋桥 喬乔 僑侨 竅窍 親亲 輕轻 傾倾 頃顷 請请 慶庆 窮穷 區区 驅驱 趨趋 權权 勸劝 確确
讓让 饒饶 擾扰 熱热 認认 榮荣 軟软 銳锐 潤润 灑洒 薩萨 賽赛 傘伞 喪丧 掃扫 殺杀 紗纱 曬晒 閃闪
陝陕 傷伤 賞赏 燒烧 設设 紳绅 審审 嬸婶 腎肾 聲声 勝胜 繩绳 聖圣 師师 獅狮 濕湿 詩诗 時时 實实
識识 勢势 適适 釋释 試试 視视 壽寿 獸兽 書书 輸输 術术 樹树 數数 帥帅 雙双 誰谁 稅税 順顺 說说
碩硕 絲丝 飼饲 鬆松 頌颂 訴诉 肅肃 雖虽 隨随 歲岁 孫孙 損损 縮缩 瑣琐 鎖锁 態态 攤摊 談谈 貪贪
嘆叹 歎叹 湯汤 燙烫 濤涛 討讨 騰腾 題题 體体 條条 統统 禿秃 塗涂 頹颓 脫脱 駝驼 襪袜 彎弯 灣湾
頑顽 萬万 網网 韋韦 違违 圍围 為为 爲为 偉伟 衛卫 謂谓 聞闻 穩稳 問问 窩窝 臥卧 烏乌 無无 務务
霧雾 誤误 犧牺 習习 係系 繫系 戲戏 細细 蝦虾 嚇吓 廈厦 鮮鲜 閒闲 賢贤 險险 縣县 獻献 憲宪 現现
線线 綫线 鄉乡 詳详 響响 項项 蕭萧 銷销 曉晓 嘯啸 協协 脅胁 攜携 寫写 謝谢 鋅锌 興兴 兇凶 洶汹
須须 鬚须 許许 敘叙 緒绪 續续 軒轩 懸悬 選选 學学 尋寻 詢询 訓训 訊讯 遜逊 壓压 鴨鸭 亞亚 訝讶
煙烟 鹽盐 嚴严 顏颜 閻阎 豔艳 艷艳 驗验 陽阳 養养 樣样 楊杨 瑤瑶 搖摇 遙遥 藥药 爺爷 頁页 業业
葉叶 醫医 儀仪 遺遗 億亿 憶忆 義义 議议 藝艺 譯译 異异 陰阴 銀银 飲饮 隱隐 應应 嬰婴 鷹鹰 營营
蠅蝇 贏赢 擁拥 傭佣 湧涌 優优 憂忧 郵邮 遊游 猶犹 誘诱 於于 魚鱼 漁渔 娛娱 與与 語语 輿舆 譽誉
預预 獄狱 園园 圓圆 員员 緣缘 遠远 願愿 約约 躍跃 閱阅 雲云 運运 韻韵 雜杂 災灾 載载 暫暂 贊赞
讚赞 髒脏 臟脏 鑿凿 棗枣 責责 擇择 澤泽 賊贼 贈赠 紮扎 閘闸 詐诈 齋斋 債债 氈毡 盞盏 嶄崭 戰战
綻绽 張张 漲涨 帳帐 賬账 脹胀 趙赵 這这 針针 偵侦 診诊 鎮镇 陣阵 爭争 徵征 證证 鄭郑 職职 執执
紙纸 擲掷 製制 質质 滯滞 鐘钟 鍾钟 終终 種种 腫肿 眾众 衆众 週周 晝昼 豬猪 諸诸 燭烛 囑嘱 矚瞩
註注 駐驻 築筑 鑄铸 專专 磚砖 轉转 賺赚 莊庄 裝装 壯壮 狀状 錐锥 準准 濁浊 資资 綜综 總总 縱纵
鄒邹 組组 鑽钻 滬沪 靜静 閔闵 揚扬 壘垒 鋒锋 夠够 辦办 訟讼 辯辩 償偿 僱雇 撫抚 贍赡 絡络 碼码
絕绝 蘇苏 貫贯 繳缴 綱纲 紐纽 測测 輪轮 慮虑 廬庐 爐炉 懷怀 幣币 閉闭 錯错 繞绕 倫伦 禍祸 穫获
騷骚 偽伪 竊窃 閣阁 宮宫 紅红 滾滚 鍋锅 幫帮 報报 飽饱 寶宝 輩辈 貶贬 編编 錶表 撥拨 駁驳 佈布
慘惨 燦灿 蒼苍 艙舱 側侧 纏缠 闡阐 腸肠 嘗尝 鈔钞 襯衬 撐撑 馳驰 籌筹 綢绸 儲储 礎础 闖闯 純纯
辭辞 賜赐 蔥葱 竄窜 誕诞 彈弹 蕩荡 檔档 禱祷 島岛 締缔 顛颠 墊垫 釣钓 疊叠 訂订 棟栋 頓顿 額额
鵝鹅 餓饿 貳贰 煩烦 販贩 誹诽 楓枫 縫缝 諷讽 輔辅 賦赋 鈣钙 擱搁 鴿鸽 溝沟 鉤钩 颳刮 閨闺 駭骇
韓韩 閡阂 鶴鹤 賀贺 轟轰 鴻鸿 壺壶 戶户 嘩哗 緩缓 喚唤 煥焕 謊谎 賄贿 繪绘 諱讳 渾浑 饑饥 雞鸡
跡迹 蹟迹 劑剂 頰颊 賈贾 殲歼 箋笺 揀拣 儉俭 撿捡 劍剑 漸渐 濺溅 踐践 賤贱 鍵键 薑姜 漿浆 蔣蒋
醬酱 澆浇 嬌娇 攪搅 矯矫 腳脚 餃饺 絞绞 謹谨 錦锦 勁劲 晉晋 鯨鲸 莖茎 頸颈 鏡镜 徑径 糾纠 駒驹
懼惧 鋸锯 絹绢 訣诀 鈞钧 駿骏 顆颗 墾垦 庫库 褲裤 誇夸 曠旷 況况 窺窥 饋馈 潰溃 蠟蜡 臘腊 萊莱
來来 賴赖 欄栏 籃篮 瀾澜 攬揽 懶懒 纜缆 濫滥 撈捞 鐳镭 籬篱 鯉鲤 厲厉 礫砾 瀝沥 隸隶 倆俩 蓮莲
鐮镰 憐怜 簾帘 斂敛 鏈链 戀恋 涼凉 鱗鳞 凜凛 賃赁 鈴铃 嶺岭 聾聋 籠笼 壟垄 攏拢 隴陇 婁娄 摟搂
蘆芦 盧卢 顱颅 擄掳 鹵卤 虜虏 魯鲁 賂赂 祿禄 鋁铝 侶侣 屢屡 縷缕 巒峦 亂乱 侖仑 淪沦 綸纶 蘿萝
鑼锣 騾骡 駱骆 瑪玛 螞蚂 罵骂 麥麦 邁迈 脈脉 瞞瞒 饅馒 蠻蛮 錨锚 貿贸 鎂镁 悶闷 覓觅 謬谬 鈉钠
撓挠 惱恼 膩腻 聶聂 鑷镊 鎳镍 檸柠 擰拧 濘泞 鈕钮 膿脓 瘧疟 諾诺 鷗鸥 毆殴 嘔呕 龐庞 飄飘 蘋苹
潑泼 頗颇 撲扑 鋪铺 樸朴 譜谱 棲栖 淒凄 臍脐 訖讫 謙谦 鉗钳 潛潜 譴谴 嗆呛 薔蔷 翹翘 欽钦 寢寝
氫氢 瓊琼 軀躯 顴颧 卻却 鵲鹊 韌韧 絨绒 閏闰 澀涩 篩筛 刪删 繕缮 紹绍 賒赊 攝摄 懾慑 滲渗 屍尸
蝕蚀 駛驶 飾饰 樞枢 贖赎 屬属 豎竖 爍烁 聳耸 誦诵 綏绥 筍笋 撻挞 擡抬 癱瘫 灘滩 壇坛 譚谭 謄誊
屜屉 貼贴 銅铜 蛻蜕 鴕鸵 馱驮 橢椭 窪洼 濰潍 維维 葦苇 緯纬 溫温 紋纹 甕瓮 蝸蜗 渦涡 嗚呜 鎢钨
誣诬 蕪芜 吳吴 塢坞 錫锡 襲袭 轄辖 峽峡 俠侠 狹狭 纖纤 鹹咸 銜衔 顯显 餡馅 羨羡 廂厢 鑲镶 囂嚣
蠍蝎 挾挟 諧谐 瀉泻 鏽锈 繡绣 虛虚 噓嘘 癬癣 絢绚 勳勋 馴驯 鴉鸦 啞哑 閹阉 厭厌 硯砚 諺谚 鴦鸯
瘍疡 癢痒 堯尧 窯窑 謠谣 頤颐 蟻蚁 詣诣 誼谊 繹绎 蔭荫 櫻樱 纓缨 瑩莹 螢萤 穎颖 踴踊 詠咏 鈾铀
嶼屿 籲吁 禦御 馭驭 鴛鸳 淵渊 轅辕 鑰钥 嶽岳 粵粤 悅悦 勻匀 隕陨 蘊蕴 暈晕 攢攒 贓赃 竈灶 則则
軋轧 斬斩 輾辗 棧栈 蟄蛰 轍辙 貞贞 掙挣 睜睁 幀帧 織织 摯挚 幟帜 軸轴 皺皱 驟骤 誅诛 貯贮 樁桩
妝妆 贅赘 墜坠 綴缀 茲兹 漬渍 蹤踪 詛诅 並并 併并 餘余 佔占 鬱郁 麵面 臺台 檯台 颱台 隻只 髮发
"""


def _build_trad_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for pair in _TRAD_SIMP_PAIRS.split():
        trad, simp = pair
        table[ord(trad)] = simp
    return table


_TRAD_TABLE = _build_trad_table()

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RE = re.compile(f"([{_CJK}])")
# A token as unicode61 sees it: letters and digits; "_" and punctuation separate.
_TOKEN_RE = re.compile(r"[^\W_]+")
# Mirror copies annotate converted characters with pinyin: 會(huì), 區(qū).
_PINYIN_RE = re.compile(
    rf"(?<=[{_CJK}])[(（][a-zA-ZüÜāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ]{{1,8}}[)）]"
)


def _pinyin_spans(text: str) -> list[tuple[int, int]]:
    if "(" not in text and "（" not in text:
        return []
    return [m.span() for m in _PINYIN_RE.finditer(text)]


def fold_text(text: str | None) -> str:
    """The form in which text is indexed and matched: pinyin annotations dropped, NFKC,
    lower case, traditional to simplified. Whole-string operations (C speed): the index
    folds every body of the archive through here."""
    if not text:
        return ""
    if _pinyin_spans(text):
        text = _PINYIN_RE.sub("", text)
    return unicodedata.normalize("NFKC", text).lower().translate(_TRAD_TABLE)


def fold(text: str | None) -> tuple[str, list[int]]:
    """:func:`fold_text` with a map back to the original: ``folded[i]`` comes from
    ``text[index_map[i]]``, so a hit found in the folded text can be cut out of the
    original text for a snippet."""
    if not text:
        return "", []
    spans = _pinyin_spans(text)
    kept = text
    positions: list[int] | range = range(len(text))
    if spans:
        dropped = bytearray(len(text))
        for s, e in spans:
            dropped[s:e] = b"\x01" * (e - s)
        positions = [i for i in range(len(text)) if not dropped[i]]
        kept = "".join(text[i] for i in positions)
    folded = unicodedata.normalize("NFKC", kept).lower().translate(_TRAD_TABLE)
    if len(folded) == len(kept):  # nothing expanded or composed: position i is position i
        return folded, list(positions)
    # Rare (㈠ → (一), ligatures): fold character by character to keep the map.
    out: list[str] = []
    index_map: list[int] = []
    for i in positions:
        piece = unicodedata.normalize("NFKC", text[i]).lower().translate(_TRAD_TABLE)
        out.append(piece)
        index_map.extend([i] * len(piece))
    return "".join(out), index_map


class _SpacedTable(dict):
    """str.translate table: a CJK character to itself between spaces, anything else to
    itself; filled as characters are met. Six times faster than a regex substitution,
    which expands its template once per character (every body passes here)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        self[code] = value = f" {ch} " if _CJK_RE.fullmatch(ch) else ch
        return value


_SPACED = _SpacedTable()


def spaced_chars(folded: str) -> str:
    """Indexed form: a space on each side of every CJK character, so that unicode61 makes
    each one a token (Latin words and numbers stay whole)."""
    return folded.translate(_SPACED)


def char_tokens(text: str) -> list[str]:
    """The tokens FTS5 (unicode61) sees in an indexed column for this (unfolded) text."""
    return _TOKEN_RE.findall(spaced_chars(fold_text(text)))


def segmenter_version() -> str:
    """Changes whenever the index of an unchanged article would come out different."""
    h = hashlib.sha256(_CODE_VERSION.encode())
    h.update(_TRAD_SIMP_PAIRS.encode())
    return h.hexdigest()[:16]


# A magazine piece's subtitle is searched as part of its title.
def indexed_title(article: dict) -> str | None:
    """The title as the index holds it: the subtitle, if any, on a second line."""
    title, subtitle = article.get("title"), article.get("subtitle")
    return f"{title or ''}\n{subtitle}" if subtitle else title


def index_columns(article: dict) -> tuple[str, str]:
    """The (title, body) the index holds for an ``articles`` row.

    Author and source go with the body: a district committee's items name it only as
    author (松江区律师工作委员会), and press reprints name the paper only as source.
    """
    body = "\n".join(x for x in (article.get("body"), article.get("author"), article.get("source")) if x)
    return spaced_chars(fold_text(indexed_title(article))), spaced_chars(fold_text(body))


def _checksum(columns: tuple[str, str]) -> int:
    return zlib.crc32("\x1f".join(columns).encode("utf-8"))


# ---------------------------------------------------------------------------- schema
def _conn(db) -> sqlite3.Connection:
    """Accept a sqlite_utils Database or a plain sqlite3 connection."""
    return getattr(db, "conn", db)


def _exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone() is not None


def _meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else row[0]


def _set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", [key])
    else:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])


def _create(conn: sqlite3.Connection) -> None:
    # contentless: the text is in articles; the index keeps only tokens and positions.
    conn.execute(
        f"CREATE VIRTUAL TABLE [{FTS_TABLE}] USING fts5({', '.join(c for c, _ in INDEX_COLUMNS)}, content = '', "
        "tokenize = 'unicode61 remove_diacritics 2')"
    )
    # The ranking of every query that says ORDER BY rank.
    weights = ", ".join(str(w) for _, w in INDEX_COLUMNS)
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('rank', 'bm25({weights})')")
    # A crawl commits one article at a time, each a new segment. Merging sixteen at a time
    # rather than four writes a third less (1.9 -> 1.3 ms an article at 3,000); rebuilds
    # end with 'optimize' anyway.
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('automerge', 16)")


def _current_layout(conn: sqlite3.Connection) -> bool:
    if not _exists(conn, FTS_TABLE):
        return False
    return [r[1] for r in conn.execute(f"PRAGMA table_info([{FTS_TABLE}])")] == [c for c, _ in INDEX_COLUMNS]


def ensure_schema(db, progress: Progress | None = None) -> None:
    """Create the search index, or rebuild it when it cannot be kept up by row updates.

    Runs inside the caller's write transaction (schema creation and migration), under the
    crawl lock, after ``articles`` has its ``search_key`` and ``search_checksum``
    columns. Rebuilt: an index of an older layout (schema 2's jieba word columns), a
    changed folding (``segmenter_version``), or a row whose indexed text was changed
    behind barwatch's back. Articles that are merely missing
    (rows inserted with plain SQL) are added. Reads never come here.
    """
    conn = _conn(db)
    if not _exists(conn, "articles"):
        return
    conn.execute(f"DROP TABLE IF EXISTS [{_OLD_MAP_TABLE}]")
    if not _current_layout(conn):
        conn.execute(f"DROP TABLE IF EXISTS [{FTS_TABLE}]")
        _create(conn)
        rebuild(conn, progress)
        return
    if _meta(conn, SEGMENTER_KEY) != segmenter_version() or _meta(conn, DIRTY_KEY):
        rebuild(conn, progress)
        return
    missing = [
        r for (r,) in conn.execute("SELECT rowid FROM articles WHERE search_key IS NULL AND status IS NOT 'removed'")
    ]
    _index_rowids(conn, missing, progress)


def rebuild(db, progress: Progress | None = None) -> int:
    """Index every article that is not removed from scratch; returns how many.

    Inside the caller's write transaction: a reader sees the old index until it commits.
    """
    conn = _conn(db)
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}]) VALUES ('delete-all')")
    conn.execute("UPDATE articles SET search_key = NULL, search_checksum = NULL WHERE search_key IS NOT NULL")
    rowids = [r for (r,) in conn.execute("SELECT rowid FROM articles WHERE status IS NOT 'removed' ORDER BY rowid")]
    _index_rowids(conn, rowids, progress)
    # One b-tree instead of a pile of segments: smaller and faster to query.
    conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}]) VALUES ('optimize')")
    _set_meta(conn, SEGMENTER_KEY, segmenter_version())
    _set_meta(conn, DIRTY_KEY, None)
    return len(rowids)


_INDEXED_FIELDS = ("title", "subtitle", "body", "author", "source", "published", "first_seen")


def _index_rowids(conn: sqlite3.Connection, rowids: list[int], progress: Progress | None) -> None:
    total = len(rowids)
    for start in range(0, total, 500):
        chunk = rowids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT rowid, id, {', '.join(_INDEXED_FIELDS)} FROM articles WHERE rowid IN ({marks})", chunk
        ).fetchall()
        for rowid, aid, *values in rows:
            key, checksum = index_entry(conn, None, {"id": aid, **dict(zip(_INDEXED_FIELDS, values))})
            conn.execute("UPDATE articles SET search_key = ?, search_checksum = ? WHERE rowid = ?", [key, checksum, rowid])
        if progress is not None:
            progress(min(start + len(chunk), total), total)


def _day(value: str | None) -> int | None:
    m = _DATE_RE.match(value or "")
    if not m:
        return None
    year, month, day = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
    try:
        return date(year, month, day).toordinal()
    except ValueError:  # 2024-02-30 and the like: the month will do
        try:
            return date(year, month, 1).toordinal()
        except ValueError:
            return date(year, 1, 1).toordinal()


def search_key(article: dict) -> int:
    """Where the article's slots in the index start: its date (published, else first
    archived) times ``SLOTS_PER_DAY``; ``index_entry`` takes the one after the day's last
    taken. So the
    index's rowid order is date order and "the newest N matches" is a cheap rowid range
    for FTS5, while neighbouring rowids stay close: FTS5 stores each rowid as a varint of
    the gap to the one before, in every token's list (a 32-bit hash in the low bits made
    the index 44 % bigger). Independent of ``articles.rowid``, which VACUUM may renumber."""
    day = _day(article.get("published")) or _day(article.get("first_seen")) or 0
    return day * SLOTS_PER_DAY


def since_key(since: str | None) -> int:
    """The smallest search key of an article published on or after ``since``."""
    return (_day(since) or 0) * SLOTS_PER_DAY


def index_entry(db, old: dict | None, new: dict) -> tuple[int | None, int | None]:
    """Index ``new`` (an ``articles`` row about to be written, with its id) in place of
    ``old`` (the row as stored, None if new); returns the ``(search_key,
    search_checksum)`` the row must be written with. In the caller's transaction."""
    conn = _conn(db)
    if old is not None:
        forget(conn, old)
    if new.get("status") == "removed":
        return None, None
    columns = index_columns(new)
    # The slot after the last one taken on its day (FTS5's own table of indexed rowids
    # says which are), or the next free one: a day with more articles than slots runs on
    # into the next day's, which keeps the order.
    start = search_key(new)
    key = conn.execute(
        f"SELECT coalesce(max(id) + 1, ?) FROM [{FTS_TABLE}_docsize] WHERE id >= ? AND id < ?",
        [start, start, start + SLOTS_PER_DAY],
    ).fetchone()[0]
    while conn.execute(f"SELECT 1 FROM [{FTS_TABLE}_docsize] WHERE id = ?", [key]).fetchone():
        key += 1
    conn.execute(f"INSERT INTO [{FTS_TABLE}](rowid, title, body) VALUES (?, ?, ?)", [key, *columns])
    return key, _checksum(columns)


def forget(db, old: dict) -> None:
    """Take an article out of the index; ``old`` is its row as stored. The caller writes
    the row with ``search_key`` NULL.

    A contentless FTS5 table forgets a row only when told exactly the text it indexed, so
    that text is recomputed from the stored row; the checksum proves it is the same. If it
    is not (the row was edited with plain SQL), the entry stays and the index is marked
    for a rebuild at the next crawl instead of being corrupted."""
    key = old.get("search_key")
    if key is None:
        return
    columns = index_columns(old)
    if _checksum(columns) != old.get("search_checksum"):
        _set_meta(_conn(db), DIRTY_KEY, f"article {old.get('id')} was changed outside barwatch")
        return
    _conn(db).execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rowid, title, body) VALUES ('delete', ?, ?, ?)", [key, *columns])


# ---------------------------------------------------------------------------- queries
_QUOTES = {'"': '"', "“": "”", "「": "」", "『": "』", "”": "”"}
# Outside quotes, whitespace and Chinese punctuation separate terms; ASCII punctuation
# inside a word (COVID-19, 3.5) keeps the word one phrase.
_SEPARATORS = set(" \t\r\n\u3000，、；。！？：,;")


def _lex(query: str) -> list[tuple[str, str]]:
    """Split a user query into (kind, text): kind is term, phrase, not-term, not-phrase, or."""
    items: list[tuple[str, str]] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in _SEPARATORS:
            i += 1
            continue
        negate = False
        if ch == "-" and i + 1 < n and query[i + 1] not in _SEPARATORS:
            negate, i, ch = True, i + 1, query[i + 1]
        if ch in _QUOTES:
            close = _QUOTES[ch]
            end = query.find(close, i + 1)
            if end < 0 and ch != '"':
                end = query.find('"', i + 1)
            end = n if end < 0 else end
            items.append(("not-phrase" if negate else "phrase", query[i + 1 : end]))
            i = end + 1
            continue
        j = i
        while j < n and query[j] not in _SEPARATORS and query[j] not in _QUOTES:
            j += 1
        word = query[i:j]
        if not negate and word in ("OR", "|"):
            items.append(("or", word))
        else:
            items.append(("not-term" if negate else "term", word))
        i = j
    return items


def _fts_string(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def parse_query(query: str) -> tuple[list[list[list[str]]], list[list[str]]]:
    """(groups, excluded): groups are AND-ed, each an OR of token lists; excluded token lists.

    Raises ValueError when nothing searchable is left.
    """
    if query is None or not query.strip():
        raise ValueError("empty search query: give at least one word, e.g. 律师 or ESG")
    groups: list[list[list[str]]] = []
    excluded: list[list[str]] = []
    join_next = False
    items = _lex(query)
    for kind, text in items:
        if kind == "or":
            join_next = bool(groups)
            continue
        tokens = char_tokens(text)
        if not tokens:
            continue
        if kind.startswith("not-"):
            excluded.append(tokens)
            join_next = False  # "a OR -b c": the OR does not carry over to c
            continue
        if join_next:
            groups[-1].append(tokens)
        else:
            groups.append([tokens])
        join_next = False
    if not groups:
        if excluded:
            raise ValueError(f"search query {query!r} only excludes words: give at least one word to look for")
        if items and all(kind == "or" for kind, _ in items):
            raise ValueError(f"search query {query!r} is only the operator OR: put it between two words, e.g. 调解 OR 仲裁")
        raise ValueError(f"search query {query!r} has no letters, digits or Chinese characters to search for")
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise ValueError(f"search query has more than {MAX_TERMS} terms")
    return groups, excluded


def _phrase(tokens: list[str]) -> str:
    # A Chinese term is a phrase of single-character tokens: exact substring semantics.
    return '"' + " ".join(tokens).replace('"', '""') + '"'


def fts_query(query: str, title_only: bool = False) -> str:
    """The FTS5 MATCH expression for a user's query (``title_only``: every term in the title).

    Terms separated by spaces must all occur; ``"..."`` (or “...”, 「...」) is a phrase,
    ``-word`` excludes, ``OR`` between two terms accepts either. A Chinese term matches as
    a substring of any length. Raises ValueError for an empty query or one of only
    punctuation.
    """
    groups, excluded = parse_query(query)
    wanted = " AND ".join(
        _phrase(g[0]) if len(g) == 1 else "(" + " OR ".join(_phrase(t) for t in g) + ")" for g in groups
    )
    if title_only:
        wanted = f"title : ({wanted})"
    if not excluded:
        return wanted
    # An excluded word is excluded wherever it occurs, also when only titles are searched.
    return f"({wanted}) NOT ({' OR '.join(_phrase(t) for t in excluded)})"


def title_hit(title: str | None, subtitle: str | None, query: str) -> bool:
    """Every term of the query is in the title (or subtitle): such articles are listed first."""
    try:
        groups, _ = parse_query(query)
    except ValueError:
        return False
    folded = fold_text(indexed_title({"title": title, "subtitle": subtitle}))
    return all(any(re.search(_term_pattern(tokens), folded) for tokens in group) for group in groups)


def _in_section(section: str) -> str:
    # Only the few distinct sections are folded, once (materialised as `sections`, and
    # kept out of the DISTINCT, where SQLite would push the test down to every row); the
    # keys of their articles become one temporary b-tree. The "+" keeps the test away from
    # FTS5, which would otherwise be asked once per key and lose its rowid order.
    return (
        f"(({section}) IS NULL OR +[{FTS_TABLE}].rowid IN "
        f"(SELECT search_key FROM articles WHERE section IN sections))"
    )


def _sections_cte(section: str) -> str:
    return f"""sections AS MATERIALIZED (
  SELECT section FROM (SELECT DISTINCT section FROM articles LIMIT -1)
  WHERE instr(barwatch_fold(section), barwatch_fold({section})) > 0
)"""


def search_sql(columns: str, *, expr: str, title_expr: str, query: str, section: str, since: str, limit: str) -> str:
    """The ranked search, as one SELECT of ``columns`` (over ``articles a`` and the hit
    ``h`` with its ``rank``) for the Python API and for Datasette's stored query.

    Each keyword argument is an SQL expression (a parameter, or a call of barwatch's SQL
    functions in Datasette). The index's rowids are in date order (``search_key``), so the
    first step walks a query's matches down from the newest, without ranking, to find
    whether it has more than ``RANK_WINDOW`` of them:

    * up to ``RANK_WINDOW``: bm25 over body and title (a title hit weighs a thousand body
      hits, see ``INDEX_COLUMNS``), one FTS5 ``ORDER BY rank LIMIT`` query;
    * more (律师 matches every article): bm25 would rank them all, and FTS5 counts every
      match again for its IDF, a quarter of a second at 100,000 articles for a
      difference that says little. Such a query lists the newest of its newest
      ``RANK_WINDOW`` matches with every term in the title, then the newest others.
      With a filter, "more" counts the whole archive's matches (the IDF's cost does),
      and the window the filtered ones.

    Either way the page is ordered with articles holding every term in their title first,
    then by rank, then newest first (by search key: the date published, else first
    archived). ``since`` is a rowid range; ``section`` filters inside the FTS5 queries.
    """
    in_section = _in_section(section)
    window = f"[{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH"

    def only_if(condition: str, match: str) -> str:
        # The branch not taken matches the empty phrase, which FTS5 answers at once. (A
        # condition beside MATCH is tested only after FTS5 has ranked every match.)
        return f"(SELECT CASE WHEN {condition} THEN {match} ELSE '{_NO_MATCH}' END FROM bound)"

    after = f"rowid >= (SELECT lo FROM bound) AND {in_section}"
    return f"""
WITH {_sections_cte(section)},
bound(lo, many) AS (
  SELECT coalesce(edge, floor),
         -- bm25 counts the matches of the whole archive for its IDF, whatever the filters
         CASE WHEN ({section}) IS NULL AND ({since}) IS NULL THEN edge IS NOT NULL ELSE (
           SELECT rowid FROM {window} {expr} ORDER BY rowid DESC LIMIT 1 OFFSET {RANK_WINDOW - 1}
         ) IS NOT NULL END
  FROM (SELECT barwatch_since_key({since}) AS floor, (
    SELECT rowid FROM {window} {expr} AND rowid >= barwatch_since_key({since}) AND {in_section}
    ORDER BY rowid DESC LIMIT 1 OFFSET {RANK_WINDOW - 1}
  ) AS edge)
),
hits AS MATERIALIZED (
  SELECT * FROM (SELECT rowid, rank FROM {window} {only_if("NOT many", expr)} AND {after}
                 ORDER BY rank LIMIT {limit})
  UNION
  SELECT * FROM (SELECT rowid, 0 FROM {window} {only_if("many", title_expr)} AND {after}
                 ORDER BY rowid DESC LIMIT {limit})
  UNION
  SELECT * FROM (SELECT rowid, 0 FROM {window} {only_if("many", expr)} AND {after}
                 ORDER BY rowid DESC LIMIT {limit})
)
SELECT {columns}
FROM hits h JOIN articles a ON a.search_key = h.rowid
ORDER BY barwatch_title_hit(a.title, a.subtitle, {query}) DESC, h.rank, h.rowid DESC
LIMIT {limit}
"""


def register_functions(conn: sqlite3.Connection) -> None:
    """The SQL functions search_sql uses."""
    # Sections of mirror copies are in traditional characters: compare folded forms.
    conn.create_function("barwatch_fold", 1, fold_text, deterministic=True)
    conn.create_function("barwatch_title_hit", 3, title_hit, deterministic=True)
    conn.create_function("barwatch_since_key", 1, lambda since: since_key(since or None), deterministic=True)


# ---------------------------------------------------------------------------- snippets
_NONCJK_WORD = rf"[^\W_{_CJK}]"


def _term_pattern(tokens: list[str]) -> str:
    """A regex over folded text equivalent to the FTS5 phrase of these tokens."""
    parts = []
    for t in tokens:
        if _CJK_RE.fullmatch(t):
            parts.append(re.escape(t))
        else:
            parts.append(rf"(?<!{_NONCJK_WORD}){re.escape(t)}(?!{_NONCJK_WORD})")
    return r"[\W_]*".join(parts)


def _hit_spans(folded: str, token_lists: list[list[str]]) -> list[tuple[int, int, int]]:
    spans = []
    for k, tokens in enumerate(token_lists):
        for m in re.finditer(_term_pattern(tokens), folded):
            if m.end() > m.start():
                spans.append((m.start(), m.end(), k))
    return sorted(spans)


def highlight(text: str | None, query: str, markers: tuple[str, str] = DEFAULT_MARKERS, width: int = 80) -> str:
    """A piece of ``text`` (the original characters) around the best hit, hits marked.

    The window of ``width`` characters holding the most distinct query terms (then the
    rarest, then the most hits) wins. With no hit, or an unparsable query, the start of
    the text, unmarked.
    """
    # Cleaned first (rows of older barwatch versions may hold control characters), so
    # the positions below are positions in the text that is shown.
    text = clean_text(text) or ""
    try:
        groups, _ = parse_query(query)
    except ValueError:
        groups = []
    token_lists = [t for g in groups for t in g]
    folded, index_map = fold(text)
    spans = _hit_spans(folded, token_lists)
    if not spans:
        return _flatten(text[:width]) + ("…" if len(text) > width else "")
    # Sliding window over the hits, sorted by start.
    totals: dict[int, int] = {}
    for _, _, k in spans:
        totals[k] = totals.get(k, 0) + 1
    best, best_key, j, counts = 0, (-1, -1.0, -1), 0, {}
    for i, (s, _, _) in enumerate(spans):
        if j < i:  # the previous hit alone was wider than the window
            j = i
            counts.clear()
        while j < len(spans) and spans[j][1] <= s + width:
            counts[spans[j][2]] = counts.get(spans[j][2], 0) + 1
            j += 1
        # Most distinct terms; then the rarer terms (a word that occurs once in the
        # article says more than one that occurs everywhere); then most hits.
        key = (len(counts), sum(1 / totals[k] for k in counts), sum(counts.values()))
        if key > best_key:
            best, best_key = i, key
        if j > i:
            k = spans[i][2]
            counts[k] -= 1
            if not counts[k]:
                del counts[k]
    start_f = spans[best][0]
    # Show a little context before the first hit.
    lead = min(width // 4, start_f)
    start_f -= lead
    end_f = min(len(folded), start_f + width)
    start, end = index_map[start_f], _orig_end(index_map, end_f, len(text))
    # Marks in original coordinates, merged where hits overlap.
    marks: list[list[int]] = []
    for s, e, _ in spans:
        if s < start_f or e > end_f:
            continue
        os_, oe = index_map[s], _orig_end(index_map, e, len(text))
        if marks and os_ <= marks[-1][1]:
            marks[-1][1] = max(marks[-1][1], oe)
        else:
            marks.append([os_, oe])
    out, pos = [], start
    for os_, oe in marks:
        out += [text[pos:os_], markers[0], text[os_:oe], markers[1]]
        pos = oe
    out.append(text[pos:end])
    return ("…" if start > 0 else "") + _flatten("".join(out)) + ("…" if end < len(text) else "")


def _orig_end(index_map: list[int], end: int, text_len: int) -> int:
    """Original position just past folded ``[..end)``, a dropped pinyin annotation included."""
    if end >= len(index_map):
        return text_len
    return max(index_map[end - 1] + 1, index_map[end])


def _flatten(s: str) -> str:
    return re.sub(r"\s*\n\s*", " ", s).strip()


# ---------------------------------------------------------------------------- search
_SINCE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def search(
    db,
    query: str,
    section: str | None = None,
    since: str | None = None,
    limit: int = 20,
    markers: tuple[str, str] = DEFAULT_MARKERS,
) -> list[dict]:
    """Ranked articles matching ``query``: id, url, title, published, section, snippet,
    score (higher is better) and title_hit (every term is in the title; these come first).

    ``section`` keeps articles whose section contains it (律协动态 matches
    "行业资讯 > 律协动态"); ``since`` (YYYY, YYYY-MM or YYYY-MM-DD) keeps those published
    on or after it. Removed articles are never returned.
    """
    if since is not None and not _SINCE_RE.match(since):
        raise ValueError(f"since must look like 2024, 2024-05 or 2024-05-31, not {since!r}")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    sql = search_sql(
        "a.id, a.url, a.title, a.subtitle, a.published, a.section, a.body, h.rank",
        expr=":expr", title_expr=":title_expr", query=":query", section=":section", since=":since", limit=":limit",
    )
    params = {
        "expr": fts_query(query), "title_expr": fts_query(query, title_only=True), "query": query,
        "section": section or None, "since": since, "limit": limit,
    }
    conn = _conn(db)
    register_functions(conn)
    results = []
    for row in conn.execute(sql, params).fetchall():
        aid, url, title, subtitle, published, sec, body, rank = row
        results.append(
            {
                "id": aid,
                "url": url,
                "title": title,
                "published": published,
                "section": sec,
                "snippet": highlight(body, query, markers),
                "score": round(-rank, 4),
                "title_hit": title_hit(title, subtitle, query),
            }
        )
    return results


def count(db, query: str, section: str | None = None, since: str | None = None) -> int:
    """How many articles ``search`` would find with no limit (a walk of the matches, no
    ranking: about a tenth of a second for a word in every one of 100,000 articles)."""
    sql = (
        f"WITH {_sections_cte(':section')} SELECT count(*) FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH :expr "
        f"AND rowid >= barwatch_since_key(:since) AND {_in_section(':section')}"
    )
    conn = _conn(db)
    register_functions(conn)
    return conn.execute(sql, {"expr": fts_query(query), "section": section or None, "since": since}).fetchone()[0]


def format_results(results: list[dict]) -> str:
    """Terminal listing: one block per hit, best first."""
    if not results:
        return "no matching articles"
    # Every value is one line without control characters: a stored title must not be able
    # to move the cursor, retitle the terminal or reorder what is shown (one_line).
    lines = []
    for n, r in enumerate(results, 1):
        meta = "  ".join(x for x in (one_line(r.get("published")), one_line(r.get("section"))) if x)
        lines.append(f"{n:>2}. {one_line(r.get('title')) or '(no title)'}")
        if meta:
            lines.append(f"    {meta}")
        if one_line(r.get("snippet")):
            lines.append(f"    {one_line(r.get('snippet'))}")
        lines.append(f"    {one_line(r.get('url'))}  [{one_line(r.get('id'))[:8]}]")
    return "\n".join(lines)
