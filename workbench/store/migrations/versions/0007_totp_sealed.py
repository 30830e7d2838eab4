"""TOTP secrets sealed at rest: ``users.totp_sealed`` holds the secret encrypted (``enc1:`` and a Fernet token, about
145 characters) with a key kept apart from the database (`workbench.auth.vault`).

The migration cannot encrypt (it has no key): a secret stored in clear before stays in ``totp_secret`` until the
services first meet it and seal it (with the settings' key) into ``totp_sealed``, clearing ``totp_secret``. A new
nullable column, added in place, so nothing is rebuilt on SQLite. A downgrade is refused while a sealed secret is
stored (revision 0006 has nowhere to keep it, and it cannot be opened here).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("totp_sealed", sa.String(length=255), nullable=True))


def downgrade() -> None:
    sealed = op.get_bind().execute(sa.text("SELECT count(*) FROM users WHERE totp_sealed IS NOT NULL")).scalar()
    if sealed:
        raise RuntimeError(
            f"{sealed} users hold a sealed TOTP secret, which revision 0006 cannot keep: remove their second factor "
            "first (or stay at 0007)"
        )
    op.drop_column("users", "totp_sealed")
