"""The dashboard's static files (``static/``), served by ``rtk_sessions.api.dashboard``."""
