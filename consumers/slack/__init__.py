"""The Slack channel: a threaded conversation per task, with emoji status on the thread root."""
