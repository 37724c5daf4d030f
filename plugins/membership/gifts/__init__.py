"""The exclusive yearly gift (专属礼品, seed 000): a gift per tier, issued once a calendar year
to each member of that tier, and taken at the till as an adjustment the server computes."""
