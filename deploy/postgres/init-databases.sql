-- One database per service (each service owns its own schema, migrated by its own manage.py).
CREATE DATABASE catalog;
CREATE DATABASE cart;
CREATE DATABASE accounts;
CREATE DATABASE orders;
