//! End-to-end harness: a real kube-apiserver + etcd and a moto AWS emulator for the tests.
