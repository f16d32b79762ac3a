-- Open311 GeoReport v2: the services list from the catalogue, a service
-- definition, POST requests mapped onto submit(), and requests in the public shape
-- (status open/closed with notes, the responsible agency, the SLA's expected time,
-- no personal data).  Everything runs in one transaction that is rolled back.
\set ON_ERROR_ROLLBACK on
BEGIN;
SET client_min_messages = warning;
\o /dev/null
\i test/fixtures/issue6_map.sql
\o

-- shown replaces what changes from run to run (the ticket, and times counted
-- from now) with what it is.
CREATE FUNCTION pg_temp.shown(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(e || jsonb_build_object(
               'service_request_id', CASE WHEN (e->>'service_request_id')::workorder.ticket IS NOT NULL THEN '<ticket>' END,
               'requested_datetime', CASE WHEN e->>'requested_datetime' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$' THEN '<W3C>' END,
               'updated_datetime', CASE WHEN e->>'updated_datetime' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$' THEN '<W3C>' END,
               'expected_datetime', CASE WHEN e->>'expected_datetime' ~ '^\d{4}-\d\d-\d\dT(18:00|\d\d:\d\d):\d\d\+08:00$' THEN '<W3C>' END)
           ORDER BY ord)
      FROM jsonb_array_elements(j) WITH ORDINALITY AS x(e, ord)
$$;

-- GET services: every active category, grouped by family.
SELECT jsonb_pretty(workorder.open311_services());
-- GET services/{code}: categories define no extra attributes.
SELECT workorder.open311_service_definition('CITY_NOISE');

-- POST requests: a citizen's app reports night noise at the market, with her name,
-- phone, e-mail and a photo.  The answer is the ticket and when to expect a result.
CREATE TEMP TABLE posted AS
SELECT workorder.open311_post_request(p.body) AS r, p.body
  FROM (SELECT '{"service_code": "CITY_NOISE", "lat": "24.15", "long": 115.15,
          "address_string": "桂城市场东门", "description": "市场夜间噪音扰民，请回电 13800138000",
          "first_name": "女士", "last_name": "陈", "phone": "13800138000", "email": "chen@example.com",
          "device_id": "d-42", "account_id": "acc-7", "media_url": "https://img.example.com/1.jpg",
          "idempotency_key": "app-0001"}'::jsonb AS body) p;
SELECT jsonb_array_length(r) AS answers,
       r->0->>'service_request_id' = (SELECT o.ticket::text FROM workorder.orders o WHERE o.channel_ref = 'app-0001') AS is_the_ticket,
       r->0->>'service_notice' ~ '^Expected by \d{4}-' AS notice, r->0->'account_id' AS account_id
  FROM posted;
-- It became an order on the open311 channel, routed like any other; the personal
-- data is on the order, for the handler.
SELECT channel_code, category_code, status, main_unit, address, reporter_name, reporter_phone, attributes
  FROM workorder.orders WHERE channel_ref = 'app-0001';
-- A retried POST with the same idempotency key is the same request.
SELECT workorder.open311_post_request(body)->0->'service_request_id' = r->0->'service_request_id' AS same_request,
       (SELECT count(*) FROM workorder.orders WHERE channel_code = 'open311') AS open311_orders
  FROM posted;
-- The same key with another POST (another client's key "app-0001", another event) is
-- refused, not answered with the first request's ticket while this report is lost.
-- (Terse: the detail names the ticket, which is of today.)
\set VERBOSITY terse
SELECT workorder.open311_post_request('{"service_code": "WATER_FLOOD", "lat": 24.05, "long": 115.05,
                                        "description": "积水", "idempotency_key": "app-0001"}');
\set VERBOSITY default
SELECT count(*) AS open311_orders FROM workorder.orders WHERE channel_code = 'open311';
-- Without a description, the service's name describes it.
SELECT jsonb_array_length(workorder.open311_post_request('{"service_code": "WATER_FLOOD", "lat": 24.12, "long": 115.12,
                                                             "idempotency_key": "app-0002"}')) AS answers;
SELECT description FROM workorder.orders WHERE channel_ref = 'app-0002';

-- GET requests/{id}: public: no name, phone, e-mail or device; the phone number
-- in the description is masked.
SELECT jsonb_pretty(pg_temp.shown(workorder.open311_request(o.ticket::text)))
  FROM workorder.orders o WHERE o.channel_ref = 'app-0001';

-- The status follows the order: accepted, resolved (closed, with the result),
-- and a duplicate merged into it shows its master's progress.
SELECT (workorder.submit('hotline', 'H-1', '0305', '市场晚上很吵', lon => 115.1501, lat => 24.15)).status;
SELECT (workorder.merge(d.id, m.id, 'C-990801', '同一事件')).status
  FROM workorder.orders d, workorder.orders m WHERE d.channel_ref = 'H-1' AND m.channel_ref = 'app-0001';
SELECT (workorder.accept(id, 'D-um', '已签收')).status FROM workorder.orders WHERE channel_ref = 'app-0001';
SELECT o.channel_ref, e->>'status' AS status,
       replace(e->>'status_notes', m.ticket::text, '<ticket of app-0001>') AS status_notes
  FROM workorder.orders o, workorder.orders m, jsonb_array_elements(workorder.open311_request(o.ticket::text)) e
 WHERE m.channel_ref = 'app-0001' AND o.channel_ref IN ('app-0001', 'H-1') ORDER BY o.channel_ref;
SELECT (workorder.resolve(id, 'D-um', '已约谈商户，晚十点后停止营业')).status FROM workorder.orders WHERE channel_ref = 'app-0001';
SELECT o.channel_ref, e->>'status' AS status,
       replace(e->>'status_notes', m.ticket::text, '<ticket of app-0001>') AS status_notes
  FROM workorder.orders o, workorder.orders m, jsonb_array_elements(workorder.open311_request(o.ticket::text)) e
 WHERE m.channel_ref = 'app-0001' AND o.channel_ref IN ('app-0001', 'H-1') ORDER BY o.channel_ref;

-- GET requests with filters: by ids (a list), by service (a category and its
-- subtree), by status.
SELECT jsonb_array_length(workorder.open311_requests(service_request_id => string_agg(ticket::text, ',' ORDER BY id))) AS by_ids
  FROM workorder.orders;
SELECT e->>'service_code' AS service_code, e->>'status' AS status
  FROM jsonb_array_elements(workorder.open311_requests(service_code => 'CITY')) e ORDER BY 1, 2;
SELECT e->>'service_code' AS service_code, e->>'status' AS status
  FROM jsonb_array_elements(workorder.open311_requests(status => 'open')) e ORDER BY 1, 2;
SELECT jsonb_array_length(workorder.open311_requests(status => 'open,closed', max_results => 2)) AS at_most_two;
-- A date range before any order: nothing.
SELECT workorder.open311_requests(start_date => '2026-01-01T00:00:00+08:00', end_date => '2026-02-01T00:00:00+08:00');

-- Errors, and their GeoReport shape for the HTTP layer.
SELECT workorder.open311_service_definition('NO_SUCH_SERVICE');
SELECT workorder.open311_error('WO871', 'unknown service_code');
SELECT workorder.open311_error('WO874', 'the Open311 request has no location');

ROLLBACK;
