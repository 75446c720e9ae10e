"""The admin console: dashboards, lists, per-user timelines, audited repair actions."""
