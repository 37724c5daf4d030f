"""staff_kpi's rules, as plain functions on a session: periods in the store's calendar
(`periods`), the daily roll-up (`rollup`), the figures (`figures`), targets, leaderboard and
commission (`targets`), and the exports (`export`)."""
