"""Member events (会员品鉴会, seed 000's 优先参加活动): invitations by tier, sent through the
`customer_notification` path, and registration that opens earlier for higher tiers."""
