"""Chinese text folding, in one place: the traditional-to-simplified table, the pinyin
notes of mirror copies, and the two folded forms built from them.

Mirrors of the site republish pages converted to traditional Chinese and, on some pages,
follow a subset of the converted characters with pinyin in parentheses (``會(huì)``,
``區(qū)``). Two readers need such text folded back to what the association wrote:

* the parser (:class:`Keyed`, :func:`key_of`): rule patterns are written once, in
  simplified Chinese, and matched against the *key* of a line: pinyin notes removed and
  traditional characters folded to simplified, nothing else. The key keeps a map back to
  the original text, so values cut out of it (author, source, crumbs) are returned
  verbatim, never converted;
* the search index (:func:`fold_text`, :func:`fold`): the same two steps plus NFKC and
  lower case, so a simplified query finds the traditional copy and ＩＣＰ finds ICP;
  :func:`fold` keeps a map back to the original for snippets.

Both use the one table (:data:`TRAD_SIMP_PAIRS`) and the one pattern
(:data:`PINYIN_NOTE_RE`); :data:`SIGNATURE` changes whenever either does, and the search
index is rebuilt when it changes (storage.search.segmenter_version). Not to be confused
with storage.textops.normalize_text, which decides what counts as an edit (NFKC,
punctuation, blanks) and never touches the script.

No I/O, no imports from the rest of barwatch: storage is the lowest layer, so the crawler
and the index can both use this.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Traditional -> simplified, one character to one character, for the characters that
# occur in the association's texts and their mirror copies (district names, legal and
# administrative vocabulary, and every traditional form of a character in the parser's
# rule patterns: labels, footer, furniture, top bar, nav). Not a full converter: enough
# that a simplified query finds a traditional copy and a rule finds its label. Characters
# whose traditional form is also an ordinary simplified character with another meaning
# (著, 乾, 覆, 瞭 ...) are left out on purpose. Every other character passes through.
TRAD_SIMP_PAIRS = """
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
瀏浏 頂顶
"""


def _table(pairs: str) -> dict[int, str]:
    table: dict[int, str] = {}
    for pair in pairs.split():
        if len(pair) != 2 or pair[0] == pair[1] or ord(pair[0]) in table:
            raise ValueError(f"TRAD_SIMP_PAIRS: {pair!r} is not a new traditional character and its simplified form")
        table[ord(pair[0])] = pair[1]
    if chained := [chr(t) for t in table if chr(t) in table.values()]:
        # Both a source and a target: one pass and two would fold differently.
        raise ValueError(f"TRAD_SIMP_PAIRS: {''.join(chained)} are both traditional and simplified")
    return table


# The table as a str.translate mapping (for reading; translating goes through _SIMPLIFY).
TRAD_TO_SIMP: dict[int, str] = _table(TRAD_SIMP_PAIRS)


class _Simplify(dict):
    """TRAD_TO_SIMP for str.translate, any other character mapped to itself when first
    met: with a plain dict, str.translate raises and swallows a KeyError for every
    character not in the table, about a fifth of its time over Chinese text."""

    def __missing__(self, code: int) -> int:
        self[code] = code
        return code


_SIMPLIFY = _Simplify({t: ord(s) for t, s in TRAD_TO_SIMP.items()})

# CJK ideographs (extension A, basic, compatibility, extensions B to H), for regex classes.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Pinyin as the mirrors print it: letters with tone marks (also ü, ê and the syllabic
# nasals ń ň ǹ ḿ), one to eight of them (the longest syllable has six), in ASCII or
# full-width parentheses right after the character annotated: 會(huì), 區(qū), 為(wèi).
PINYIN_LETTERS = "a-zA-ZüÜêāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ"
# Written as "a parenthesis, preceded by a CJK character and itself": starting with a
# literal set lets the regex engine skip ahead to the next parenthesis, three times as
# fast as the equivalent pattern that starts with the lookbehind (?<=[CJK])[(（].
PINYIN_NOTE_RE = re.compile(rf"[(（](?<=[{CJK}][(（])[{PINYIN_LETTERS}]{{1,8}}[)）]")

# Bump when what fold_text does besides the table and the pattern changes the folded
# form of some text.
_FOLD_STEPS = "pinyin, NFKC, lower, table"
# Changes whenever a key or a folded text could come out different: the steps, the
# pattern and the table (sorted, so that reformatting TRAD_SIMP_PAIRS changes nothing).
SIGNATURE = hashlib.sha256(
    "\n".join((_FOLD_STEPS, PINYIN_NOTE_RE.pattern, "".join(sorted(TRAD_SIMP_PAIRS.split())))).encode()
).hexdigest()[:16]


def _has_paren(text: str) -> bool:
    return "(" in text or "（" in text


def pinyin_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` of every pinyin note in ``text``, in order."""
    if not _has_paren(text):  # nearly every text: two scans at C speed, no regex
        return []
    return [m.span() for m in PINYIN_NOTE_RE.finditer(text)]


def strip_pinyin(text: str) -> str:
    """``text`` without its pinyin notes: ``區(qū)`` -> ``區``."""
    return PINYIN_NOTE_RE.sub("", text) if _has_paren(text) else text


def to_simplified(text: str) -> str:
    """``text`` with the table's traditional characters folded to simplified; one
    character for one, so positions are kept."""
    return text.translate(_SIMPLIFY)


def _without(text: str, spans: list[tuple[int, int]]) -> tuple[str, list[int]]:
    """``text`` without the spans, and for each character kept its position in ``text``."""
    pieces: list[str] = []
    positions: list[int] = []
    pos = 0
    for start, end in spans:
        pieces.append(text[pos:start])
        positions.extend(range(pos, start))
        pos = end
    pieces.append(text[pos:])
    positions.extend(range(pos, len(text)))
    return "".join(pieces), positions


# ---------------------------------------------------------------------------- the parser's key
def key_of(text: str) -> str:
    """The key the parser matches its rules against: pinyin notes removed, traditional
    folded to simplified. Nothing else changes (no NFKC, no case)."""
    return to_simplified(strip_pinyin(text))


class Keyed:
    """A line of text plus its key (:func:`key_of`) and a map between the two.

    ``original(start, end)`` maps a span of the key back to the original text; a pinyin
    note that follows the last character of the span stays with it.
    """

    __slots__ = ("text", "key", "_idx")

    def __init__(self, text: str):
        self.text = text
        # Nearly every line has no pinyin note: key position i is text position i.
        spans = [m.span() for m in PINYIN_NOTE_RE.finditer(text)] if "(" in text or "（" in text else None
        if not spans:
            self.key = text.translate(_SIMPLIFY)
            self._idx: range | list[int] = range(len(text) + 1)
            return
        kept, idx = _without(text, spans)
        idx.append(len(text))
        self.key = kept.translate(_SIMPLIFY)
        self._idx = idx

    def original(self, start: int, end: int) -> str:
        if end <= start:
            return ""
        # _idx[end] is where the next key character starts, so a pinyin note that
        # follows the span's last character stays with the span.
        return self.text[self._idx[start] : self._idx[end]]

    def group(self, m: re.Match, group: int | str = 0) -> str | None:
        if m.group(group) is None:
            return None
        return self.original(m.start(group), m.end(group))


# ---------------------------------------------------------------------------- the search index's form
def fold_text(text: str | None) -> str:
    """The form in which text is indexed and matched: pinyin notes dropped, NFKC, lower
    case, traditional to simplified. Whole-string operations (C speed): the index folds
    every body of the archive through here."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", strip_pinyin(text)).lower().translate(_SIMPLIFY)


def fold(text: str | None) -> tuple[str, list[int]]:
    """:func:`fold_text` with a map back to the original: ``folded[i]`` comes from
    ``text[index_map[i]]``, so a hit found in the folded text can be cut out of the
    original text for a snippet."""
    if not text:
        return "", []
    spans = pinyin_spans(text)
    kept, positions = _without(text, spans) if spans else (text, range(len(text)))
    folded = unicodedata.normalize("NFKC", kept).lower().translate(_SIMPLIFY)
    if len(folded) == len(kept):  # nothing expanded or composed: position i is position i
        return folded, list(positions)
    # Rare (㈠ -> (一), ligatures): fold character by character to keep the map.
    out: list[str] = []
    index_map: list[int] = []
    for i in positions:
        piece = unicodedata.normalize("NFKC", text[i]).lower().translate(_SIMPLIFY)
        out.append(piece)
        index_map.extend([i] * len(piece))
    return "".join(out), index_map
