DROP INDEX order_items_product_id_idx;
DROP TABLE order_items;
