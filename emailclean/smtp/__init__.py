"""SMTP probing: sessions (`client`), reply classification (`replies`),
per-host limits and scheduling (`pool`).

The pipeline needs only `MailboxProber` and `SmtpSettings`.
"""

from emailclean.smtp.pool import MailboxProber
from emailclean.smtp.settings import SmtpSettings
from emailclean.smtp.stats import ProberStats

__all__ = ["MailboxProber", "ProberStats", "SmtpSettings"]
