"""Notifications beyond the browser: a durable outbox, a dispatcher with retries, webhook and e-mail channels.

`rules` (pure) decides which channels and targets an escalation step reaches and builds the payload;
`storage` rows are written in the same transaction as the step (cloud/escalation_service.py); `dispatcher`
delivers them through the `Notifier` port (`webhook.WebhookNotifier`, `email.EmailNotifier`), claiming rows so
that hub replicas share the outbox; `outbox` shows rows to staff and sends failed ones again.
"""
