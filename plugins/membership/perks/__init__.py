"""Perks that act (seed 000's 优先客服 and gold's higher standing discount): each a plain module
the hooks call."""
