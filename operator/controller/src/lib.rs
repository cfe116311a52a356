//! All Kubernetes IO: the RGD controller and the dynamic controllers of generated kinds.
