"""UI text in Japanese (first) and English. Pages call ``t(key)`` in the chosen language."""

from __future__ import annotations

from collections.abc import Callable

TEXT: dict[str, tuple[str, str]] = {
    "app": ("CarrierGuard 本部審査", "CarrierGuard HQ review"),
    "login": ("ログイン", "Sign in"),
    "logout": ("ログアウト", "Sign out"),
    "username": ("ユーザー名", "Username"),
    "password": ("パスワード", "Password"),
    "totp": ("ワンタイムコード（認証アプリの6桁）", "One-time code (6 digits from your app)"),
    "queue": ("審査キュー", "Review queue"),
    "reports": ("報告", "Reports"),
    "filter": ("絞り込み", "Filter"),
    "all": ("すべて", "All"),
    "state": ("状態", "State"),
    "channel": ("チャネル", "Channel"),
    "overdue": ("期限超過のみ", "Overdue only"),
    "case": ("案件", "Case"),
    "application": ("申込み", "Application"),
    "holder": ("契約者", "Holder"),
    "sla": ("期限", "Due"),
    "purpose": ("利用目的", "Purpose"),
    "pledge": ("誓約（転売・貸与しない）", "Pledge (no resale or lending)"),
    "signed_by": ("署名者", "Signed by"),
    "not_signed": ("未提出", "Not given"),
    "actual_users": ("実際の利用者", "Actual users"),
    "relationship": ("続柄", "Relationship"),
    "verification": ("本人確認", "Verification"),
    "verified": ("確認済", "Verified"),
    "unverified": ("未確認", "Not verified"),
    "lines_by_pool": ("保有回線（区分別）", "Lines held, by pool"),
    "earlier_cases": ("過去の案件", "Earlier cases"),
    "identity_candidates": ("本人同一性の候補", "Identity candidates"),
    "identity_found": (
        "審査時に同一人物の可能性がある契約者が見つかりました:",
        "Screening found holders who may be the same person:",
    ),
    "screening_reasons": ("審査理由", "Screening reasons"),
    "person_name": ("氏名", "Name"),
    "risk_flags": ("リスク情報", "Risk flags"),
    "none": ("なし", "None"),
    "history": ("履歴", "History"),
    "decide": ("判断", "Decision"),
    "approve": ("承認する", "Approve"),
    "refuse": ("拒否する", "Refuse"),
    "reason_code": ("拒否理由コード", "Refusal reason code"),
    "comment": ("判断理由（必須）", "Reason (required)"),
    "request_info": ("追加情報を依頼", "Request information"),
    "note": ("依頼内容", "What is needed"),
    "blockers": ("承認できない理由", "Why it cannot be approved yet"),
    "decided": ("判断済み", "Decided"),
    "lines_beyond_cap": ("上限超過回線数", "Lines beyond cap"),
    "requires_actual_users": ("利用者登録が必要", "Actual users required"),
    "empty_queue": ("該当する案件はありません。", "No cases match."),
    "count": ("件数", "Count"),
    "pool": ("区分", "Pool"),
    "done": ("処理しました。", "Done."),
    "st_submitted": ("受付", "submitted"),
    "st_awaiting_info": ("追加情報待ち", "awaiting info"),
    "st_escalated": ("本部回付", "escalated"),
    "st_approved": ("承認", "approved"),
    "st_refused": ("拒否", "refused"),
    "st_withdrawn": ("取下げ", "withdrawn"),
    "ln_active": ("利用中", "active"),
    "ln_reserved": ("審査待ち（予約）", "reserved"),
    "ln_suspended": ("利用停止", "suspended"),
    "ln_number_kept": ("番号保管", "number kept"),
    "ln_terminated": ("解約", "terminated"),
    "pool_voice": ("音声・SMS付き", "voice and SMS"),
    "pool_data": ("データ専用", "data only"),
    "ch_store": ("店頭", "store"),
    "ch_agency": ("代理店", "agency"),
    "ch_online": ("オンライン", "online"),
}


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t
