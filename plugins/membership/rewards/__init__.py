"""The rewards catalogue (积分兑换, seed 000): goods or services a member takes for points at the
counter, with stock kept by inventory through the `stock_change` hook, and returned."""
