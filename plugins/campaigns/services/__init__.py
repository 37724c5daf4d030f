"""The campaigns rules, one module per concern: segments, channels, messaging (consent, caps,
quiet hours, templates, unsubscribe), coupons, sending, effect, automations, notifications."""
