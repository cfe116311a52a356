//! Compiles a ResourceGraphDefinition: `${}` scanning, references, the DAG and its order.
