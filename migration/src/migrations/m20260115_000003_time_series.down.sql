DROP TABLE IF EXISTS daily_return;
DROP TABLE IF EXISTS daily_price;
