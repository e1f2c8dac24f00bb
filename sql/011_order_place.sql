-- Where an order is: the division it counts under in the figures, with the evidence behind it.
-- division_code (001) holds the place; these say who put it there and why:
--   agent       the agent chose it at intake (possibly narrowed by the address to a street inside it)
--   router      the routing engine resolved it from the address or, failing that, the content
--   redispatch  a district hub handed the order down to a street office: the order is in that street
--   correction  an agent corrected it with a reason (audited as set_division)
ALTER TABLE work_orders
    ADD COLUMN division_source text CHECK (division_source IN ('agent', 'router', 'redispatch', 'correction')),
    ADD COLUMN division_confidence real CHECK (division_confidence BETWEEN 0 AND 1),
    ADD COLUMN division_matched text,
    ADD COLUMN division_reasons jsonb NOT NULL DEFAULT '[]';

UPDATE work_orders SET division_source = 'agent', division_confidence = 1 WHERE division_code IS NOT NULL;

-- Orders taken in before: the place the engine decided at their latest dispatch. A dispatch's
-- audit event names its assignment, whose route_note keeps the whole decision (division,
-- confidence, reasons, the matched spans of the text).
WITH last_dispatch AS (
    SELECT DISTINCT ON (e.order_id) e.order_id, a.route_note -> 'decision' AS d
    FROM audit_events e
    JOIN assignments a ON a.id = (e.payload ->> 'assignment_id')::bigint
    WHERE e.action = 'dispatch' AND a.route_note -> 'decision' ->> 'division_code' IS NOT NULL
    ORDER BY e.order_id, e.id DESC
)
UPDATE work_orders o
SET division_code = l.d ->> 'division_code',
    division_source = CASE WHEN o.division_code IS NULL THEN 'router' ELSE 'agent' END,
    division_confidence = least(greatest((l.d ->> 'confidence')::real, 0), 1),
    division_matched = (SELECT string_agg(s ->> 'text', '、') FROM jsonb_array_elements(l.d -> 'spans') s
                        WHERE s ->> 'code' = l.d ->> 'division_code'),
    division_reasons = coalesce(l.d -> 'reasons', '[]')
FROM last_dispatch l
WHERE l.order_id = o.id AND EXISTS (SELECT 1 FROM divisions WHERE code = l.d ->> 'division_code');

-- Then the streets hubs handed orders down to, where the street lies inside the recorded place.
WITH last_down AS (
    SELECT DISTINCT ON (e.order_id) e.order_id, u.division_code, u.name
    FROM audit_events e
    JOIN units u ON u.id = (e.payload ->> 'unit_id')::bigint
    WHERE e.action = 'redispatch' AND u.division_code IS NOT NULL
    ORDER BY e.order_id, e.id DESC
)
UPDATE work_orders o
SET division_code = l.division_code, division_source = 'redispatch', division_confidence = 1,
    division_matched = NULL, division_reasons = jsonb_build_array('re-dispatched to ' || l.name)
FROM last_down l
WHERE l.order_id = o.id AND o.division_source IS DISTINCT FROM 'correction'
  AND (o.division_code IS NULL
       OR (l.division_code LIKE o.division_code || '%' AND length(l.division_code) > length(o.division_code)));
