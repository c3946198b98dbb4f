"""The browser application for admissions desks and the identitovigilance cell (docs/web.md)."""
