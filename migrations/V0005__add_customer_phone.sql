-- runner:phase expand
-- Nullable with no default: the release still serving traffic never writes it, and SQLite
-- adds such a column without rewriting the table.
ALTER TABLE customers ADD COLUMN phone TEXT;
