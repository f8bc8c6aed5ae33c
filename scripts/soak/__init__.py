"""The pieces of the chaos soak (scripts/chaos_soak.py): a private PostgreSQL cluster, the
fleet of sweep workers it kills and restarts, and the checks run on what survived."""
