-- runner:phase expand
-- The fulfilment screen lists open orders oldest first.
CREATE INDEX orders_status_created_at_idx ON orders (status, created_at);
