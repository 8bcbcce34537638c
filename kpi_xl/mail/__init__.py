"""Email: each stakeholder's reports and summary, over verified SMTP or to an outbox."""
