"""The GitHub channel: one status comment per task on its PR (or issue), edited in place."""
