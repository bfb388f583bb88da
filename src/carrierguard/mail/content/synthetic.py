"""Legitimate Japanese notices written by us, for training only (never for evaluation).

The corpora hold hundreds of Japanese phishing mails but few legitimate Japanese mails, so a
model trained on them alone learns "Japanese means phishing". These notices (order
confirmations, card statements, deliveries, bills, log-in alerts, bookings, business mail)
come from each brand's official domain and link only there, in the same encodings real
senders use. Every one carries ``X-CarrierGuard-Synthetic: yes`` and the corpus name
``synthetic-ja``; they are used in the training split only.
"""

from __future__ import annotations

import base64
import quopri
import random
from email.header import Header

SYNTHETIC_HEADER = "X-CarrierGuard-Synthetic"

# (brand as written, sender address, official link base)
_SENDERS: tuple[tuple[str, str, str], ...] = (
    ("Amazon.co.jp", "auto-confirm@amazon.co.jp", "https://www.amazon.co.jp/gp/css/order-history"),
    ("楽天市場", "order@rakuten.co.jp", "https://order.my.rakuten.co.jp/"),
    ("ヨドバシ・ドット・コム", "info@yodobashi.com", "https://order.yodobashi.com/"),
    ("メルカリ", "no-reply@mercari.jp", "https://jp.mercari.com/mypage"),
    (
        "Yahoo!ショッピング",
        "shopping-order@mail.yahoo.co.jp",
        "https://odhistory.shopping.yahoo.co.jp/",
    ),
    ("ヤマト運輸", "mail@kuronekoyamato.co.jp", "https://toi.kuronekoyamato.co.jp/"),
    ("日本郵便", "info@ml.post.japanpost.jp", "https://trackings.post.japanpost.jp/"),
    ("佐川急便", "info@ds.sagawa-exp.co.jp", "https://k2k.sagawa-exp.co.jp/"),
    ("三井住友カード", "statement@vpass.ne.jp", "https://www.smbc-card.com/mem/index.jsp"),
    ("JCB", "mail@qa.jcb.co.jp", "https://my.jcb.co.jp/"),
    ("イオンカード", "info@aeon.co.jp", "https://www.aeon.co.jp/app/"),
    ("楽天カード", "info@mail.rakuten-card.co.jp", "https://www.rakuten-card.co.jp/e-navi/"),
    ("エポスカード", "info@eposcard.co.jp", "https://www.eposcard.co.jp/memberservice/"),
    ("セゾンカード", "info@saisoncard.co.jp", "https://www.saisoncard.co.jp/"),
    ("NTTドコモ", "info@mail.docomo.ne.jp", "https://www.docomo.ne.jp/mydocomo/"),
    ("au", "info@point.kddi.com", "https://www.au.com/my-au/"),
    ("ソフトバンク", "info@mail.softbank.jp", "https://my.softbank.jp/"),
    ("東京電力エナジーパートナー", "info@kurashi.tepco.co.jp", "https://www.kurashi.tepco.co.jp/"),
    ("えきねっと", "info@eki-net.com", "https://www.eki-net.com/"),
    ("JR西日本 e5489", "e5489@jr-odekake.net", "https://e5489.jr-odekake.net/"),
    ("三井住友銀行", "info@dc.smbc.co.jp", "https://direct.smbc.co.jp/"),
    ("三菱UFJ銀行", "info@bk.mufg.jp", "https://direct.bk.mufg.jp/"),
    ("PayPay", "no-reply@paypay.ne.jp", "https://paypay.ne.jp/"),
)
_KINDS: dict[str, tuple[str, str]] = {
    "order": (
        "【{brand}】ご注文の確認 (注文番号 {num})",
        "{name} 様\n\n{brand}をご利用いただきありがとうございます。\n"
        "以下のご注文を承りました。\n\n注文番号: {num}\nご注文日: {date}\n"
        "お支払い金額: {yen} 円\n\nご注文の詳細は注文履歴からご確認いただけます。\n{url}\n",
    ),
    "shipping": (
        "{brand}より発送のお知らせ",
        "{name} 様\n\nご注文の商品を発送いたしました。\nお届け予定日: {date}\n"
        "お問い合わせ番号: {num}\n\n配達状況は次のページでご確認いただけます。\n{url}\n"
        "※このメールは送信専用です。\n",
    ),
    "statement": (
        "【{brand}】{month}月分ご利用代金請求額確定のお知らせ",
        "{name} 様\n\nいつも{brand}をご利用いただきありがとうございます。\n"
        "{month}月{day}日お支払い分のご請求金額が確定しました。\n\nご請求金額: {yen} 円\n"
        "お支払い日: {date}\n\nご利用明細はログインしてご確認ください。\n{url}\n",
    ),
    "bill": (
        "【{brand}】{month}月分ご利用料金のお知らせ",
        "{name} 様\n\n{month}月分のご利用料金が確定しましたのでお知らせします。\n"
        "ご利用料金: {yen} 円(税込)\n口座振替日: {date}\n\n詳細はMy ページでご確認いただけます。\n{url}\n",
    ),
    "login": (
        "【{brand}】ログインのお知らせ",
        "{name} 様\n\n{date} に新しい端末から{brand}へのログインがありました。\n"
        "お客さまご本人によるログインであれば、このメールへの対応は不要です。\n"
        "お心当たりがない場合は、お手数ですがパスワードを変更してください。\n{url}\n",
    ),
    "booking": (
        "【{brand}】ご予約内容の確認",
        "{name} 様\n\n{brand}をご利用いただきありがとうございます。\nご予約を承りました。\n\n"
        "予約番号: {num}\nご乗車日: {date}\n\n予約内容の確認・変更は以下から行えます。\n{url}\n",
    ),
    "points": (
        "【{brand}】ポイント付与のお知らせ",
        "{name} 様\n\nキャンペーン特典として {points} ポイントを付与しました。\n"
        "ポイントの有効期限は {date} までです。\n\nポイント履歴はこちら\n{url}\n",
    ),
    "payment_update": (
        "【{brand}】お支払い方法のご確認",
        "{name} 様\n\n{date} のお支払いでご登録のカードがご利用いただけませんでした。\n"
        "お手数ですが、会員ページでお支払い方法をご確認のうえ更新をお願いいたします。\n{url}\n"
        "ご不明な点はヘルプページをご覧ください。\n",
    ),
}
_BUSINESS: tuple[tuple[str, str], ...] = (
    ("打ち合わせ日程のご相談", "いつもお世話になっております。\n来週の打ち合わせですが、{date} の14時からでいかがでしょうか。\n資料は共有フォルダに置いてあります。\n{url}\nよろしくお願いいたします。\n"),
    ("お見積書送付のご案内", "お世話になっております。\nご依頼いただいた件のお見積書をお送りします。\n金額は {yen} 円(税別)です。\nご査収のほどよろしくお願いいたします。\n詳細: {url}\n"),
    ("セミナー開催のご案内", "平素より格別のご高配を賜り、厚く御礼申し上げます。\n{date} にオンラインセミナーを開催いたします。\nお申し込みは以下のページからお願いいたします。\n{url}\n"),
    ("議事録の共有", "皆さま\n\n本日の定例会議の議事録を共有します。\n次回は {date} です。\n{url}\n以上、よろしくお願いします。\n"),
)  # fmt: skip
_PERSONAL: tuple[tuple[str, str], ...] = (
    (
        "明日の件",
        "明日の待ち合わせは{hour}時に駅の改札前でお願いします。\n少し遅れるかもしれません。",
    ),
    ("写真", "この前の写真を送ります。\nまた今度ゆっくり話そうね。"),
    ("Re: 週末", "了解です！\n土曜日なら大丈夫です。お店は予約しておきますね。"),
    ("テスト", "テスト送信です。\n届いていたら返信ください。"),
    (
        "お疲れさまです",
        "お疲れさまです。\n本日の作業は完了しました。明日は{hour}時から対応します。",
    ),
    (
        "こんにちは",
        "こんにちは。\nお元気ですか。来月そちらに行く予定なので、時間があれば会いましょう。",
    ),
    (
        "資料の件",
        "先ほどの資料、確認しました。\n二点ほど修正をお願いしたいので、後ほど電話します。",
    ),
    ("Re: 質問", "ご質問ありがとうございます。\nその件は{date}までに回答いたします。"),
)
_FREEMAIL = ("docomo.ne.jp", "ezweb.ne.jp", "au.com", "i.softbank.jp", "gmail.com", "yahoo.co.jp")
_COMPANIES = ("sakura-kogyo.co.jp", "midori-denki.jp", "aozora-soft.co.jp", "hikari-sangyo.com")
_NAMES = ("山田 太郎", "佐藤 花子", "鈴木 一郎", "高橋 美咲", "田中 健", "伊藤 由美", "渡辺 翔")
_KIND_FOR = {
    "Amazon.co.jp": ("order", "shipping", "login", "payment_update"),
    "楽天市場": ("order", "points", "login"),
    "ヨドバシ・ドット・コム": ("order", "shipping", "points"),
    "メルカリ": ("order", "shipping", "login"),
    "Yahoo!ショッピング": ("order", "points"),
    "ヤマト運輸": ("shipping",),
    "日本郵便": ("shipping",),
    "佐川急便": ("shipping",),
    "NTTドコモ": ("bill", "points", "login"),
    "au": ("bill", "points", "payment_update"),
    "ソフトバンク": ("bill", "login"),
    "東京電力エナジーパートナー": ("bill",),
    "えきねっと": ("booking", "login", "points"),
    "JR西日本 e5489": ("booking",),
    "三井住友銀行": ("login",),
    "三菱UFJ銀行": ("login",),
    "PayPay": ("points", "login", "payment_update"),
}


def _encode(text: str, rng: random.Random) -> tuple[str, str, bytes]:
    """(charset, transfer encoding, body bytes) in one of the encodings real senders use."""
    choice = rng.randrange(4)
    if choice == 0:
        return "ISO-2022-JP", "7bit", text.encode("iso2022_jp_ext", "replace")
    if choice == 1:
        return "Shift_JIS", "quoted-printable", quopri.encodestring(text.encode("cp932", "replace"))
    if choice == 2:
        return "UTF-8", "base64", base64.encodebytes(text.encode("utf-8"))
    return "UTF-8", "8bit", text.encode("utf-8")


def _html(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        if line.startswith("http"):
            lines.append(f'<a href="{line}">{line if len(line) < 50 else "こちら"}</a><br>')
        else:
            lines.append(f"{line}<br>")
    return "<html><body><div style='font-size:14px'>" + "\n".join(lines) + "</div></body></html>"


def _message(subject: str, display: str, sender: str, text: str, rng: random.Random) -> bytes:
    as_html = rng.random() < 0.4
    body_text = _html(text) if as_html else text
    charset, cte, body = _encode(body_text, rng)
    ctype = "text/html" if as_html else "text/plain"
    domain = sender.rpartition("@")[2]
    head = (
        f"From: {Header(display, 'utf-8').encode()} <{sender}>\r\n"
        f"To: customer@example.jp\r\n"
        f"Subject: {Header(subject, 'utf-8').encode()}\r\n"
        f"Date: Mon, 01 Jan 2024 09:00:00 +0900\r\n"
        f"Message-ID: <{rng.getrandbits(64):x}@{domain}>\r\n"
        f"MIME-Version: 1.0\r\n"
        f"Content-Type: {ctype}; charset={charset}\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n"
        f"{SYNTHETIC_HEADER}: yes\r\n\r\n"
    )
    return head.encode("ascii") + body


def notices(count: int = 300, seed: int = 20261128) -> list[bytes]:
    """``count`` synthetic legitimate Japanese messages, deterministic for a seed."""
    rng = random.Random(seed)
    out: list[bytes] = []
    while len(out) < count:
        fill = {
            "name": rng.choice(_NAMES),
            "num": f"{rng.randrange(10**9, 10**10)}",
            "date": f"{rng.randrange(2020, 2026)}年{rng.randrange(1, 13)}月{rng.randrange(1, 29)}日",
            "yen": f"{rng.randrange(300, 90000):,}",
            "month": str(rng.randrange(1, 13)),
            "day": str(rng.randrange(1, 28)),
            "points": str(rng.randrange(10, 3000)),
        }
        fill["hour"] = str(rng.randrange(8, 20))
        roll = rng.random()
        if roll < 0.2:
            subject, body = rng.choice(_PERSONAL)
            local = rng.choice(("hanako", "taro.y", "m-sato", "ichiro1985", "yumi_i"))
            sender = f"{local}@{rng.choice(_FREEMAIL)}"
            text = body.format(**fill) + "\n"
            out.append(_message(subject, rng.choice(_NAMES), sender, text, rng))
            continue
        if roll < 0.35:
            subject, body = rng.choice(_BUSINESS)
            company = rng.choice(_COMPANIES)
            url = f"https://www.{company}/{rng.choice(('docs', 'seminar', 'share'))}/{fill['num']}"
            text = f"{fill['name']} 様\n\n" + body.format(url=url, **fill)
            sender = f"{rng.choice(('tanaka', 'sato', 'info', 'sales'))}@{company}"
            out.append(_message(subject, rng.choice(_NAMES), sender, text, rng))
            continue
        brand, sender, url = rng.choice(_SENDERS)
        kind = rng.choice(_KIND_FOR.get(brand, ("statement", "login", "points")))
        subject, body = _KINDS[kind]
        fill["brand"] = brand
        text = body.format(url=url, **fill) + f"\n{brand}\n"
        out.append(_message(subject.format(**fill), brand, sender, text, rng))
    return out
