"""Chinese full-text search over the archive.

Why not SQLite's own tokenizers: ``unicode61`` makes a whole run of Chinese characters one
token (so 律师 is not found inside 上海市律师协会), and ``trigram`` cannot match the
one- and two-character words that most Chinese words are. So the text is segmented here,
in Python, and stored pre-split in an FTS5 table that ``unicode61`` then only has to split
on spaces:

* ``title_chars`` / ``body_chars``: every CJK character is its own token (Latin words and
  numbers stay whole). A Chinese query term becomes an FTS5 *phrase of single characters*
  over these columns, which is exact substring semantics for a term of any length: 律,
  律师, 律工委, 宝山区律师工作委员会 are all found wherever they occur, inside longer words too.
* ``title_words`` / ``body_words``: jieba's search-mode words (with the domain dictionary
  ``userdict.txt``). They never decide *whether* an article matches, only how high it
  ranks: an article where the term is a real word scores above one where the characters
  merely sit side by side across a word boundary.

Both the index and every query go through the same :func:`fold` (NFKC, lower case, a small
traditional-to-simplified table, pinyin annotations of mirror copies dropped), so a
simplified query finds the traditional mirror copy of an article, and ＩＣＰ finds ICP.

The FTS rowid is ``articles.rowid`` so that Datasette's ``fts_table`` search box works.
``articles_fts_map`` records which article (and which segmenter version) each FTS row
holds; :func:`ensure_schema` compares it with ``articles`` on every open, which is cheap
(articles' (rowid, id) come from its primary-key index, the map is small; no body is
read) and repairs any drift: a new FTS table
(migration), a changed dictionary, rowids renumbered by VACUUM, an article revived
without being re-indexed.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from storage.textops import clean_text, one_line

FTS_TABLE = "articles_fts"
MAP_TABLE = "articles_fts_map"
TITLE_COLUMNS = ("title_chars", "title_words")
ALL_COLUMNS = ("title_chars", "body_chars", "title_words", "body_words")
# bm25 weights in column order: a hit in the title counts ten times a hit in the body.
BM25_WEIGHTS = (10.0, 1.0, 10.0, 1.0)
USERDICT = Path(__file__).with_name("userdict.txt")
# Bump when fold/segment change in a way that needs existing rows re-indexed; the
# dictionary's content is part of the version too (see segmenter_version()).
_CODE_VERSION = "2"
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


def fold(text: str | None) -> tuple[str, list[int]]:
    """The form in which text is indexed and matched, with a map back to the original.

    ``folded[i]`` comes from ``text[index_map[i]]``. Folding is per character (NFKC, lower
    case, traditional to simplified) and drops pinyin annotations, so a hit found in the
    folded text can be cut out of the original text for a snippet.
    """
    if not text:
        return "", []
    dropped = bytearray(len(text))
    for m in _PINYIN_RE.finditer(text):
        dropped[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
    out: list[str] = []
    index_map: list[int] = []
    for i, ch in enumerate(text):
        if dropped[i]:
            continue
        folded = unicodedata.normalize("NFKC", ch).lower().translate(_TRAD_TABLE)
        out.append(folded)
        index_map.extend([i] * len(folded))
    return "".join(out), index_map


def fold_text(text: str | None) -> str:
    return fold(text)[0]


def spaced_chars(folded: str) -> str:
    """Text for the *_chars columns: a space on each side of every CJK character."""
    return _CJK_RE.sub(r" \1 ", folded)


def char_tokens(text: str) -> list[str]:
    """The tokens FTS5 (unicode61) sees in a *_chars column for this (unfolded) text."""
    return _TOKEN_RE.findall(spaced_chars(fold_text(text)))


# ---------------------------------------------------------------------------- jieba
_jieba_lock = threading.Lock()
_tokenizer = None


def _jieba():
    """The jieba tokenizer with the domain dictionary, built once, on first use.

    jieba logs "Building prefix dict ..." to stderr while it initialises; silenced so that
    CLI output stays clean. Initialisation (about half a second) happens only when
    something is segmented, not on import or on an archive open with nothing to index.
    """
    global _tokenizer
    if _tokenizer is None:
        with _jieba_lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                tk.initialize()
                if USERDICT.is_file():
                    tk.load_userdict(str(USERDICT))
                _tokenizer = tk
    return _tokenizer


def segment_words(folded: str) -> list[str]:
    """jieba search-mode words of already-folded text, only those that hold a token."""
    if not folded:
        return []
    return [w for w in _jieba().cut_for_search(folded) if _TOKEN_RE.search(w)]


def segmenter_version() -> str:
    """Changes whenever the index of an unchanged article would come out different."""
    return _segmenter_version(_CODE_VERSION)


@functools.lru_cache(maxsize=4)
def _segmenter_version(code_version: str) -> str:
    # Cached: index_article asks for it on every write; the dictionary is read once.
    h = hashlib.sha256(code_version.encode())
    h.update(USERDICT.read_bytes() if USERDICT.is_file() else b"")
    h.update(_TRAD_SIMP_PAIRS.encode())
    return h.hexdigest()[:16]


# A magazine piece's subtitle is searched as part of its title.
_TITLE_SQL = "title || COALESCE(char(10) || subtitle, '')"


def indexed_title(article: dict) -> str | None:
    """The title as the index holds it: the subtitle, if any, on a second line."""
    title, subtitle = article.get("title"), article.get("subtitle")
    return f"{title or ''}\n{subtitle}" if subtitle else title


def index_columns(title: str | None, body: str | None, author: str | None = None, source: str | None = None) -> dict[str, str]:
    """The four FTS column values for an article.

    Author and source go with the body: a district committee's items name it only as
    author (松江区律师工作委员会), and press reprints name the paper only as source.
    """
    ft = fold_text(title)
    fb = fold_text("\n".join(x for x in (body, author, source) if x))
    return {
        "title_chars": spaced_chars(ft),
        "body_chars": spaced_chars(fb),
        "title_words": " ".join(segment_words(ft)),
        "body_words": " ".join(segment_words(fb)),
    }


# ---------------------------------------------------------------------------- schema
def _conn(db) -> sqlite3.Connection:
    """Accept a sqlite_utils Database or a plain sqlite3 connection."""
    return getattr(db, "conn", db)


def _exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [name]).fetchone() is not None


def ensure_schema(db) -> None:
    """Create the search index if missing and bring it in step with ``articles``.

    Idempotent and cheap when nothing is to do: it reads (rowid, id) of articles and the
    small map table, and loads jieba only if some article needs (re)indexing. Commits its
    own work unless the caller already holds a transaction, which then stays the caller's.
    """
    conn = _conn(db)
    if conn.in_transaction:
        _ensure(conn)
    else:
        with conn:
            _ensure(conn)


def _ensure(conn: sqlite3.Connection) -> None:
    fts_new = not _exists(conn, FTS_TABLE)
    map_new = not _exists(conn, MAP_TABLE)
    if fts_new:
        cols = ", ".join(ALL_COLUMNS)
        conn.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS [{FTS_TABLE}] USING fts5("
            f"{cols}, tokenize = 'unicode61 remove_diacritics 2')"
        )
        # Default ranking for queries that say ORDER BY rank (Datasette canned queries).
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        conn.execute(f"INSERT INTO [{FTS_TABLE}]([{FTS_TABLE}], rank) VALUES ('rank', 'bm25({weights})')")
    if map_new:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS [{MAP_TABLE}] ("
            "rowid INTEGER PRIMARY KEY, article_id TEXT NOT NULL UNIQUE, segmenter TEXT NOT NULL)"
        )
    # A freshly created half of the pair makes the other half's rows meaningless.
    if fts_new and not map_new:
        conn.execute(f"DELETE FROM [{MAP_TABLE}]")
    if map_new and not fts_new:
        conn.execute(f"DELETE FROM [{FTS_TABLE}]")
    if not _exists(conn, "articles"):
        return

    version = segmenter_version()
    expected = dict(conn.execute("SELECT rowid, id FROM articles"))
    removed = {r for (r,) in conn.execute("SELECT rowid FROM articles WHERE status = 'removed'")}
    indexed = {r: (aid, seg) for r, aid, seg in conn.execute(f"SELECT rowid, article_id, segmenter FROM [{MAP_TABLE}]")}
    stale = [r for r, (aid, _) in indexed.items() if expected.get(r) != aid or r in removed]
    missing = [r for r, aid in expected.items() if r not in removed and indexed.get(r) != (aid, version)]
    if missing:
        _jieba()  # load before the first write, not while holding the write lock
    for r in stale:
        _delete_rowid(conn, r)
    for chunk in _chunks(missing, 200):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT rowid, id, {_TITLE_SQL}, body, author, source FROM articles WHERE rowid IN ({marks})", chunk
        )
        for rowid, aid, title, body, author, source in rows.fetchall():
            _write(conn, rowid, aid, title, body, author, source, version)


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _delete_rowid(conn: sqlite3.Connection, rowid: int) -> None:
    conn.execute(f"DELETE FROM [{FTS_TABLE}] WHERE rowid = ?", [rowid])
    conn.execute(f"DELETE FROM [{MAP_TABLE}] WHERE rowid = ?", [rowid])


def _write(conn: sqlite3.Connection, rowid: int, article_id: str, title, body, author, source, version: str) -> None:
    # The same article under another rowid (renumbered by VACUUM) must not stay behind.
    for (old,) in conn.execute(
        f"SELECT rowid FROM [{MAP_TABLE}] WHERE article_id = ? AND rowid != ?", [article_id, rowid]
    ).fetchall():
        _delete_rowid(conn, old)
    cols = index_columns(title, body, author, source)
    conn.execute(f"DELETE FROM [{FTS_TABLE}] WHERE rowid = ?", [rowid])
    conn.execute(
        f"INSERT INTO [{FTS_TABLE}](rowid, {', '.join(ALL_COLUMNS)}) VALUES (?, ?, ?, ?, ?)",
        [rowid, *(cols[c] for c in ALL_COLUMNS)],
    )
    conn.execute(
        f"INSERT OR REPLACE INTO [{MAP_TABLE}](rowid, article_id, segmenter) VALUES (?, ?, ?)",
        [rowid, article_id, version],
    )


def index_article(db, article: dict) -> None:
    """(Re)index one article row. Runs inside the caller's transaction; never commits."""
    conn = _conn(db)
    row = conn.execute("SELECT rowid FROM articles WHERE id = ?", [article["id"]]).fetchone()
    if row is None:
        return
    if article.get("status") == "removed":
        _delete_rowid(conn, row[0])
        return
    _write(
        conn, row[0], article["id"], indexed_title(article), article.get("body"),
        article.get("author"), article.get("source"), segmenter_version(),
    )


def unindex_article(db, article_id: str) -> None:
    """Take an article out of the index (it was removed). Never commits."""
    conn = _conn(db)
    for (rowid,) in conn.execute(f"SELECT rowid FROM [{MAP_TABLE}] WHERE article_id = ?", [article_id]).fetchall():
        _delete_rowid(conn, rowid)


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


def _colset(columns: Iterable[str]) -> str:
    return "{" + " ".join(columns) + "}"


def _join_tokens(tokens: list[str]) -> str:
    """Tokens back to text for jieba: CJK characters run together, other tokens spaced."""
    out = ""
    for t in tokens:
        if out and not (_CJK_RE.fullmatch(t) and _CJK_RE.fullmatch(out[-1])):
            out += " "
        out += t
    return out


def _term_expr(tokens: list[str], folded: str, columns: str) -> str:
    """One term: must occur as a substring; ranks higher where jieba sees it as a word."""
    chars = [c for c in (TITLE_COLUMNS if columns == "title" else ALL_COLUMNS) if c.endswith("_chars")]
    words = [c for c in (TITLE_COLUMNS if columns == "title" else ALL_COLUMNS) if c.endswith("_words")]
    phrase = f"{_colset(chars)}: {_fts_string(' '.join(tokens))}"
    ranked = [folded] if _TOKEN_RE.fullmatch(folded) else []
    for w in segment_words(folded):
        if w not in ranked:
            ranked.append(w)
    if not ranked:
        return phrase
    # "P AND (P OR W)" matches exactly the rows P matches (P ∧ (P ∨ W) = P), so the words
    # cannot widen the result; but bm25 scores every phrase of the expression, so an
    # article where jieba found the term (or its parts) as words ranks higher.
    alternatives = " OR ".join(_fts_string(w) for w in ranked[:12])
    return f"({phrase} AND ({phrase} OR {_colset(words)}: ({alternatives})))"


def parse_query(query: str) -> tuple[list[list[list[str]]], list[list[str]]]:
    """(groups, excluded): groups are AND-ed, each an OR of token lists; excluded token lists.

    Raises ValueError when nothing searchable is left.
    """
    if query is None or not query.strip():
        raise ValueError("empty search query: give at least one word, e.g. 律师 or ESG")
    groups: list[list[list[str]]] = []
    excluded: list[list[str]] = []
    join_next = False
    for kind, text in _lex(query):
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
        raise ValueError(f"search query {query!r} has no letters, digits or Chinese characters to search for")
    if sum(len(g) for g in groups) + len(excluded) > MAX_TERMS:
        raise ValueError(f"search query has more than {MAX_TERMS} terms")
    return groups, excluded


def fts_query(query: str, columns: str = "all") -> str:
    """The FTS5 MATCH expression (over ``articles_fts``) for a user's query.

    Terms separated by spaces must all occur; ``"..."`` (or “...”, 「...」) is a phrase,
    ``-word`` excludes, ``OR`` between two terms accepts either. A Chinese term matches as
    a substring of any length. ``columns="title"`` restricts the expression to titles.
    Raises ValueError for an empty query or one of only punctuation.
    """
    if columns not in ("all", "title"):
        raise ValueError(f"columns must be 'all' or 'title', not {columns!r}")
    groups, excluded = parse_query(query)
    parts = []
    for group in groups:
        exprs = [_term_expr(tokens, _join_tokens(tokens), columns) for tokens in group]
        parts.append(exprs[0] if len(exprs) == 1 else "(" + " OR ".join(exprs) + ")")
    expr = " AND ".join(parts)
    if excluded:
        # An excluded word is excluded wherever it occurs, also when only titles are searched.
        chars = ["title_chars", "body_chars"]
        nots = " OR ".join(f"{_colset(chars)}: {_fts_string(' '.join(t))}" for t in excluded)
        expr = f"({expr}) NOT ({nots})"
    return expr


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
    expr = fts_query(query)
    title_expr = fts_query(query, columns="title")
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    sql = f"""
        SELECT a.id, a.url, a.title, a.published, a.section, a.body,
               bm25([{FTS_TABLE}], {weights}) AS bm25,
               a.rowid IN (SELECT rowid FROM [{FTS_TABLE}] WHERE [{FTS_TABLE}] MATCH :title_expr) AS title_hit
        FROM [{FTS_TABLE}] JOIN articles a ON a.rowid = [{FTS_TABLE}].rowid
        WHERE [{FTS_TABLE}] MATCH :expr
          AND a.status IS NOT 'removed'
          AND (:section IS NULL OR instr(barwatch_fold(a.section), :section) > 0)
          AND (:since IS NULL OR a.published >= :since)
        ORDER BY title_hit DESC, bm25, a.published DESC, a.id
        LIMIT :limit
    """
    params = {
        "expr": expr,
        "title_expr": title_expr,
        "section": fold_text(section) if section else None,
        "since": since,
        "limit": limit,
    }
    conn = _conn(db)
    # Sections of mirror copies are in traditional characters: compare folded forms.
    conn.create_function("barwatch_fold", 1, fold_text, deterministic=True)
    results = []
    for row in conn.execute(sql, params).fetchall():
        aid, url, title, published, sec, body, bm25, title_hit = row
        results.append(
            {
                "id": aid,
                "url": url,
                "title": title,
                "published": published,
                "section": sec,
                "snippet": highlight(body, query, markers),
                "score": round(-bm25, 4),
                "title_hit": bool(title_hit),
            }
        )
    return results


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
