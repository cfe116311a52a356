//! Ownership of children: conflicts with other ApplySets, unowned objects (refused, or adopted
//! with the RGD's opt-in and orphaned on delete), deletionPolicy on delete, prune, includeWhen and
//! forEach shrink, and prune/cleanup scoped to the ApplySet's namespaces.
