"""SMS to citizens: notices queued with the change they announce, a relay that sends them
through a pluggable gateway, and the citizens' replies (survey answers, opt-out)."""
