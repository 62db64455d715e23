"""The REST API under /api/v1/: leads, accounts, activities, scoring models, scores, handoffs."""
