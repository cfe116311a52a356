//! Pure per-instance evaluation: from a compiled graph, an instance and observed objects, the plan.
