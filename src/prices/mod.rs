//! Bulk price loads into `daily_price`.
