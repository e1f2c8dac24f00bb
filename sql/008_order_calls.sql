-- An order taken on a call points at the call record (calls come from adapters/ami).
ALTER TABLE work_orders ADD COLUMN call_id bigint REFERENCES calls (id);
CREATE INDEX work_orders_call_id ON work_orders (call_id) WHERE call_id IS NOT NULL;
