"""Publishing: claim due posts from the outbox, send them through adapters, record outcomes."""
