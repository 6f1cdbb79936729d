-- Opening stock for every product of the catalog's opening range
-- (services/catalog/migrations/002_seed_products.sql). The ids are copied as
-- data: inventory owns its rows and never reads the catalog's database.
-- Every product starts with 25 units, except two kept low on purpose so demos
-- and tests can run out of stock quickly: cold-brew-tower (3) and espresso-machine (2).
insert into stock (product_id, available, reserved) values
  ('aeropress-original', 25, 0),
  ('burr-grinder-pro', 25, 0),
  ('chemex-6-cup', 25, 0),
  ('cold-brew-tower', 3, 0),
  ('colombia-huila-1kg', 25, 0),
  ('cupping-spoon', 25, 0),
  ('descaler-500ml', 25, 0),
  ('espresso-machine', 2, 0),
  ('ethiopia-yirgacheffe-250g', 25, 0),
  ('gooseneck-kettle', 25, 0),
  ('guatemala-antigua-250g', 25, 0),
  ('hand-grinder', 25, 0),
  ('kenya-nyeri-250g', 25, 0),
  ('knock-box', 25, 0),
  ('milk-pitcher-600ml', 25, 0),
  ('moka-pot-6-cup', 25, 0),
  ('paper-filters-v60', 25, 0),
  ('porcelain-cups-set', 25, 0),
  ('precision-scale', 25, 0),
  ('sumatra-mandheling-1kg', 25, 0),
  ('tamper-58mm', 25, 0),
  ('travel-mug', 25, 0),
  ('v60-dripper', 25, 0),
  ('water-filter-jug', 25, 0);
