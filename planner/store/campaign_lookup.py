"""Finding applied campaigns: their ids, whether one exists, its zone and file.

The campaign itself is read by planner.store.campaigns.get."""

from __future__ import annotations

from planner.errors import PlannerError


class CampaignNotFound(PlannerError):
    """A campaign id that names no applied campaign (a typo): the message lists the known ones."""

    def __init__(self, db, campaign_id: str):
        super().__init__("campaign.not_found", id=campaign_id, known=", ".join(ids(db)) or "-")


def ids(db) -> list[str]:
    """Every applied campaign's id, sorted."""
    return [r[0] for r in db.execute("SELECT id FROM campaigns ORDER BY id")]


def exists(db, campaign_id: str) -> bool:
    return db.execute("SELECT 1 FROM campaigns WHERE id = ?", [campaign_id]).fetchone() is not None


def require(db, campaign_id: str) -> None:
    """Raises CampaignNotFound unless the campaign was applied."""
    if not exists(db, campaign_id):
        raise CampaignNotFound(db, campaign_id)


def timezone_name(db, campaign_id: str) -> str:
    """The campaign's own zone (an IANA name); raises CampaignNotFound."""
    row = db.execute("SELECT timezone FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    if row is None:
        raise CampaignNotFound(db, campaign_id)
    return row[0]


def source_file(db, campaign_id: str) -> str | None:
    """The file the campaign was last applied from; None when unknown (or no campaign was ever applied)."""
    if "campaigns" not in db.table_names():
        return None
    row = db.execute("SELECT source_file FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    return row[0] if row else None


def summaries(db) -> list[dict]:
    """id, name, owner, timezone, start_at, end_at of every campaign, earliest start first."""
    return list(db.query("SELECT id, name, owner, timezone, start_at, end_at FROM campaigns ORDER BY start_at"))
