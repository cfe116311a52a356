//! Namespace confinement: what a namespaced instance may reach in the `instance` and `any`
//! modes (children, cluster-scoped kinds, externalRefs, Secret reads).
