"""Personal data protection (domain.md "Privacy and access"): export, erasure, key rotation,
data-subject requests, retention, masked logs and the append-only audit log.

Every rule here is a plain function taking a SQLAlchemy session; the API, CLI and jobs call them."""

from __future__ import annotations


def init_privacy(app) -> None:
    """Wire the privacy guards into an app: masked logs and errors, append-only audit log."""
    from core.privacy import audit_guard, models, role_audit  # noqa: F401 - the tables join the metadata
    from core.privacy.masking_log import install_error_masking, install_log_masking

    audit_guard.install()
    role_audit.install()
    install_log_masking()
    install_error_masking(app)
