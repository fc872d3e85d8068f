DROP TABLE IF EXISTS portfolio_allocation;
DROP FUNCTION IF EXISTS check_portfolio_weight_sum();
DROP TABLE IF EXISTS portfolio_model;
DROP TABLE IF EXISTS scenario_definition;
