//! AWS authority: the ACK adoption gate, user-written finalizers never proving ownership,
//! cross-namespace references and Secrets, and the ACK deletion policies.
