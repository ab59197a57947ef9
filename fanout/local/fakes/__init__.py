"""Stand-ins for Slack and GitHub: real HTTP servers on loopback with call logs and fault schedules."""
