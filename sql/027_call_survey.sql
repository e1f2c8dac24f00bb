-- End-of-call satisfaction (按键评价): the digit the caller pressed after the agent hung up, from
-- the dialplan's UserEvent HotlineSurvey (AMI, live) or its CELGenUserEvent (CEL USER_DEFINED,
-- durable). survey_at set and survey_digit NULL: the survey was played and nothing was pressed.
-- The digit is kept as pressed; what it means (满意 / 基本满意 / 不满意) is the scale of the
-- deployment (HOTLINE_SURVEY_SCALE), applied when counting, so a changed prompt needs no rewrite.
ALTER TABLE calls
    ADD COLUMN survey_digit  text CHECK (survey_digit ~ '^[0-9*#]$'),
    ADD COLUMN survey_at     timestamptz,
    ADD COLUMN survey_source text CHECK (survey_source IN ('ami', 'cel'));

-- The survey figures read a period's surveyed calls by their entry time.
CREATE INDEX calls_surveyed ON calls (entered_at) WHERE survey_at IS NOT NULL;
