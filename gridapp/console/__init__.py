"""The supervisor, department and admin web console: server-rendered pages over the features'
service verbs (no rule is re-implemented here)."""
