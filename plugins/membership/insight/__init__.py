"""Member insight (会员数据分析, seed 000): members to recall, active vs dormant, points over time."""
