//! SimpleSchema → OpenAPI v3: turns an RGD's `spec.schema` into the instance CRD.
