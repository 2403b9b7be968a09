"""The hub's records: tables, migrations, and the one repository every reader and writer goes through."""
