-- Seed rows: the engine version and the three managed scenarios. Existing rows (by key) are left
-- as they are, so re-running never duplicates or overwrites an edited scenario.

INSERT INTO model_version_registry (version_id, version_name, description, release_date)
VALUES ('1.0.0', 'Phase 1 Initial', 'Phase 1 초기 릴리스', CURRENT_DATE)
ON CONFLICT (version_id) DO NOTHING;

INSERT INTO scenario_definition
    (scenario_id, name_ko, name_en, description, objective, target_investor, risk_level, disclaimer, display_order)
VALUES
    ('MIN_VOL', '변동성 최소화', 'Minimum Volatility',
     '변동성을 최소화하는 전략을 학습하기 위한 시나리오입니다.',
     '변동성 최소화를 통한 안정적 자산 운용 학습',
     '변동성에 민감하며 안정적인 자산 운용을 학습하고자 하는 분',
     'LOW',
     '본 시나리오는 교육 목적의 학습 자료이며, 투자 권유가 아닙니다. 과거 데이터 기반 참고치이며 미래 성과를 보장하지 않습니다.',
     1),
    ('DEFENSIVE', '방어형', 'Defensive',
     '시장 하락 시 손실을 최소화하는 전략을 학습하기 위한 시나리오입니다.',
     '시장 하락 시 손실 최소화 전략 학습',
     '하락장에서의 자산 보전을 학습하고자 하는 분',
     'LOW',
     '본 시나리오는 교육 목적의 학습 자료이며, 투자 권유가 아닙니다. 과거 데이터 기반 참고치이며 미래 성과를 보장하지 않습니다.',
     2),
    ('GROWTH', '성장형', 'Growth',
     '장기 자산 성장 전략을 학습하기 위한 시나리오입니다.',
     '장기 자산 성장 전략 학습',
     '장기적인 자산 성장을 학습하고자 하는 분',
     'HIGH',
     '본 시나리오는 교육 목적의 학습 자료이며, 투자 권유가 아닙니다. 과거 데이터 기반 참고치이며 미래 성과를 보장하지 않습니다.',
     3)
ON CONFLICT (scenario_id) DO NOTHING;
