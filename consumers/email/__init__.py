"""The email channel: task outcomes as email through Amazon SES (API v2)."""
