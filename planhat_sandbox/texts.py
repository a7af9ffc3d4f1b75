"""Text pools for seeded data: several languages and scripts, emoji included.

Arabic and Hebrew entries are written right to left; they test that clients
keep the characters and their order as sent.
"""

# The pools contain non-Latin letters and punctuation on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

SUBJECTS: tuple[str, ...] = (
    "Login fails after password reset",
    "Export to CSV times out for large reports",
    "Invoice shows the wrong VAT rate",
    "Feature request: dark mode 🌙",
    "Dashboard loads forever ⏳",
    "SSO with Okta returns error 500",
    "Billing question about the annual plan 💳",
    "Webhook deliveries are delayed by hours",
    "Cannot invite new users to the workspace",
    "Great job on the new release! 🎉🚀",
    "Data import stuck at 99%",
    "API rate limit reached during nightly sync",
    "Rechnung doppelt erhalten – bitte prüfen",
    "Problème de synchronisation avec le CRM",
    "La página de informes no carga",
    "Relatório mensal com valores duplicados",
    "导出报表时出错",
    "ログインできません",
    "대시보드가 표시되지 않습니다",
    "Не приходят уведомления на почту",
    "لا يمكنني تسجيل الدخول إلى الحساب",
    "مشكلة في الفاتورة الشهرية 📄",
    "שגיאה בייצוא הנתונים",
    "הלקוח מבקש שדרוג לחבילה השנתית 👍",
    "Mixed: Order #4711 ✅ تم الشحن / נשלח",
    'Quotes "inside" the subject, and a back\\slash',
    "Zero-width joiner family 👨‍👩‍👧 and flags 🇸🇪🇯🇵",
    "Tab\tand newline\ninside a subject",
)

SENTENCES: tuple[str, ...] = (
    "Hi team, since this morning none of our users can log in.",
    "The error appears right after the password reset email is confirmed.",
    "We attached a screenshot of the console output for reference.",
    "Could you please check whether this is related to the last deployment?",
    "Our finance department needs the corrected invoice before the end of the month.",
    "The export works for small date ranges but fails for anything over 90 days.",
    "Thanks for the quick help last week, it worked perfectly! 🙏",
    "This is blocking our renewal discussion, so a fast answer is appreciated.",
    "Steps to reproduce: open the dashboard, select 'Last 12 months', wait.",
    "Expected: the chart loads in a few seconds. Actual: spinner forever.",
    "Wir haben das Problem auch auf mehreren Rechnern nachgestellt.",
    "Merci de revenir vers nous dès que possible.",
    "Gracias por su ayuda, quedamos atentos.",
    "请尽快处理，谢谢。",
    "よろしくお願いいたします。",
    "مرحباً، نواجه مشكلة في مزامنة البيانات منذ أمس.",
    "نرجو المساعدة في أقرب وقت ممكن.",
    "שלום, הנתונים לא מתעדכנים מאז אתמול בערב.",
    "תודה רבה על העזרה המהירה!",
    'JSON sample: {"id": 42, "ok": false, "path": "C:\\\\temp\\\\export"}',
    "<b>HTML</b> from the mail client &amp; an entity.",
    "Emoji in the body: 😀😅🔥💯 and a rare one 🫠.",
)

COMPANY_NAMES: tuple[str, ...] = (
    "Northwind Traders",
    "Contoso",
    "Fabrikam",
    "Tailspin Toys",
    "Wide World Importers",
    "Adventure Works",
    "Litware",
    "Proseware",
    "Woodgrove Bank",
    "Alpine Ski House",
    "Müller & Söhne GmbH",
    "Société d'Essai SA",
    "株式会社サンプル",
    "شركة المثال",
    'חברת דוגמה בע"מ',
)

FIRST_NAMES: tuple[str, ...] = (
    "Alex", "Maria", "Yuki", "Omar", "Noa", "Lena", "Chen", "Fatima", "Lucas", "Ingrid",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Garcia", "Tanaka", "Haddad", "Levi",
    "Schmidt", "Wang", "Nilsson", "Rossi", "Okafor",
)  # fmt: skip

TAGS: tuple[str, ...] = (
    "billing",
    "bug",
    "sso",
    "export",
    "vip",
    "onboarding",
    "api",
    "urgent",
)

PRODUCTS: tuple[str, ...] = ("Core", "Analytics", "Integrations", "Mobile app")
