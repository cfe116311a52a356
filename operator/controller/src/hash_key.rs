//! The per-install key of the desired-hash annotation.
//!
//! [`crate::diff::with_hash`] stamps every child with an HMAC-SHA256 of its desired object.
//! Unkeyed, that hash would let anyone who can read a child check guesses of the values in it
//! (a Secret child's payload) offline; keyed, it tells them nothing. The key lives in the
//! Secret [`SECRET_NAME`] in the operator's namespace, created with a random key on the first
//! start and read once at every start. A new key (the Secret deleted, or its `data.key`
//! changed) changes every hash, so every child is applied once more, with the same content.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ObjectMeta, PostParams};
use sha2::{Digest, Sha256};

use crate::error::describe;

/// Name of the Secret holding the key.
pub const SECRET_NAME: &str = "kro-rs-hash-key";
/// Key of the Secret's `data` entry holding the key.
pub const SECRET_DATA_KEY: &str = "key";
/// Length of a generated key, in bytes; a stored key must be at least this long.
pub const KEY_LEN: usize = 32;

/// A key of the desired-hash HMAC. Its bytes are never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct HashKey(Arc<[u8]>);

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashKey({} bytes)", self.0.len())
    }
}

impl HashKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        HashKey(Arc::from(bytes))
    }

    /// A fresh random key (of [`KEY_LEN`] bytes, from the operating system's generator).
    pub fn random() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        // The OS generator does not fail on the platforms kro-rs runs on; were it to, a key
        // derived from the time and process still differs between installs.
        if getrandom::fill(&mut bytes).is_err() {
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            bytes.copy_from_slice(&Sha256::digest(seed.as_bytes()));
        }
        HashKey::from_bytes(&bytes)
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The namespace of the key Secret: `$POD_NAMESPACE`, else the in-cluster namespace, else
/// `--leader-election-namespace`, else the client's default namespace (`default` unless the
/// kubeconfig context names one).
pub fn secret_namespace(leader_election_namespace: &str, client_default: &str) -> String {
    if let Some(ns) = std::env::var("POD_NAMESPACE")
        .ok()
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
    {
        return ns;
    }
    if let Some(ns) =
        std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
            .ok()
            .map(|ns| ns.trim().to_string())
            .filter(|ns| !ns.is_empty())
    {
        return ns;
    }
    if !leader_election_namespace.is_empty() {
        return leader_election_namespace.to_string();
    }
    client_default.to_string()
}

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The API server refused or failed a read or create.
    #[error(
        "{action} Secret {namespace}/{SECRET_NAME} (the key of the desired-hash annotation): \
         {reason}; the operator needs get and create on that Secret in its namespace \
         (the chart's hash-key Role grants them)"
    )]
    Api {
        /// `reading` or `creating`.
        action: &'static str,
        /// Namespace of the Secret.
        namespace: String,
        /// What the API server said.
        reason: String,
        /// Whether RBAC refused it (403).
        forbidden: bool,
    },
    /// The Secret exists but holds no usable key.
    #[error(
        "Secret {namespace}/{SECRET_NAME} has no data.{SECRET_DATA_KEY} of at least {KEY_LEN} \
         bytes ({found}); delete the Secret and kro-rs creates a new key on its next start \
         (every child is then applied once more, unchanged)"
    )]
    Unusable {
        /// Namespace of the Secret.
        namespace: String,
        /// What was found instead, without its value.
        found: String,
    },
}

/// The key in a read Secret.
fn key_of(secret: &Secret, namespace: &str) -> Result<HashKey, KeyError> {
    let unusable = |found: String| KeyError::Unusable {
        namespace: namespace.to_string(),
        found,
    };
    let stored = secret
        .data
        .as_ref()
        .and_then(|data| data.get(SECRET_DATA_KEY))
        .ok_or_else(|| unusable(format!("no data.{SECRET_DATA_KEY}")))?;
    if stored.0.len() < KEY_LEN {
        return Err(unusable(format!("a key of {} bytes", stored.0.len())));
    }
    Ok(HashKey::from_bytes(&stored.0))
}

/// The Secret holding `key`.
fn secret_for(key: &HashKey) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(SECRET_NAME.to_string()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "kro-rs".to_string(),
                )]
                .into(),
            ),
            annotations: Some(
                [(
                    "kro.run/purpose".to_string(),
                    "key of the internal.kro.run/desired-hash annotation; deleting it makes \
                     kro-rs re-apply every child once on its next start"
                        .to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".to_string()),
        data: Some(
            [(
                SECRET_DATA_KEY.to_string(),
                ByteString(key.as_bytes().to_vec()),
            )]
            .into(),
        ),
        ..Secret::default()
    }
}

/// Reads the key Secret from `api` (namespace `namespace`), creating it with a random key when
/// absent. Two replicas starting at once both end with the key that was stored first: the
/// one whose create lost (AlreadyExists) reads the winner's back.
pub async fn load_or_create(api: &Api<Secret>, namespace: &str) -> Result<HashKey, KeyError> {
    let failed = |action: &'static str, e: &kube::Error| KeyError::Api {
        action,
        namespace: namespace.to_string(),
        reason: describe(e),
        forbidden: matches!(e, kube::Error::Api(status) if status.code == 403),
    };
    if let Some(secret) = api
        .get_opt(SECRET_NAME)
        .await
        .map_err(|e| failed("reading", &e))?
    {
        return key_of(&secret, namespace);
    }
    let key = HashKey::random();
    match api.create(&PostParams::default(), &secret_for(&key)).await {
        Ok(_) => {
            tracing::info!(
                secret = SECRET_NAME,
                namespace,
                "created the desired-hash key Secret"
            );
            Ok(key)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let secret = api
                .get(SECRET_NAME)
                .await
                .map_err(|e| failed("reading", &e))?;
            key_of(&secret, namespace)
        }
        Err(e) => Err(failed("creating", &e)),
    }
}

/// Where the key in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The Secret (read, or created on this start).
    Secret,
    /// Made up by this process, because RBAC grants nothing on the Secret (e.g. kro's own chart
    /// in its `aggregation` RBAC mode, which has no Secret rule): hashes change at every start,
    /// so every child is applied once more after a restart, with the same content.
    ThisProcess,
}

/// [`load_or_create`], except that a Secret RBAC forbids is not fatal: the operator then runs
/// with a key of its own process ([`KeySource::ThisProcess`]) and logs once, at WARN, what to
/// grant. Every other failure (the API server down, a stored key too short) stays an error.
pub async fn load_or_fallback(
    api: &Api<Secret>,
    namespace: &str,
) -> Result<(HashKey, KeySource), KeyError> {
    match load_or_create(api, namespace).await {
        Ok(key) => Ok((key, KeySource::Secret)),
        Err(
            error @ KeyError::Api {
                forbidden: true, ..
            },
        ) => {
            tracing::warn!(
                error = %error,
                "running with a desired-hash key of this process only: every child is applied \
                 once more after each restart; grant get and create on the Secret to keep one key"
            );
            Ok((HashKey::random(), KeySource::ThisProcess))
        }
        Err(error) => Err(error),
    }
}

/// A key as text, for logs that must say which key is in use without revealing it: the first
/// bytes of the SHA-256 of the key.
pub fn fingerprint(key: &HashKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    STANDARD.encode(&digest[..6])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake::{FakeApi, FakeKind};

    fn fake() -> FakeApi {
        FakeApi::new(&[FakeKind::new("", "v1", "Secret", "secrets", true)])
    }

    #[tokio::test]
    async fn creates_the_secret_once_and_reads_it_back() {
        let fake = fake();
        let api: Api<Secret> = Api::namespaced(fake.client(), "kro-system");
        let first = load_or_create(&api, "kro-system").await.unwrap();
        let stored = fake
            .get("v1", "Secret", "kro-system", SECRET_NAME)
            .expect("the key Secret is created");
        assert_eq!(
            stored["data"][SECRET_DATA_KEY],
            json!(STANDARD.encode(first.as_bytes()))
        );
        assert_eq!(first.as_bytes().len(), KEY_LEN);
        // The next start reads the same key.
        assert_eq!(load_or_create(&api, "kro-system").await.unwrap(), first);
    }

    #[tokio::test]
    async fn two_replicas_starting_together_end_with_one_key() {
        let fake = fake();
        let api: Api<Secret> = Api::namespaced(fake.client(), "kro-system");
        let (a, b) = tokio::join!(
            load_or_create(&api, "kro-system"),
            load_or_create(&api, "kro-system")
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a, b);
        let stored = fake.get("v1", "Secret", "kro-system", SECRET_NAME).unwrap();
        assert_eq!(
            stored["data"][SECRET_DATA_KEY],
            json!(STANDARD.encode(a.as_bytes()))
        );
    }

    #[tokio::test]
    async fn an_existing_key_is_used_and_a_short_one_is_refused_by_name() {
        let fake = fake();
        let api: Api<Secret> = Api::namespaced(fake.client(), "ops");
        let chosen = [7u8; 40];
        fake.insert(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": "ops"},
            "data": {SECRET_DATA_KEY: STANDARD.encode(chosen)}}));
        assert_eq!(
            load_or_create(&api, "ops").await.unwrap().as_bytes(),
            &chosen[..]
        );
        fake.insert(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": "ops"},
            "data": {SECRET_DATA_KEY: STANDARD.encode("short")}}));
        let error = load_or_create(&api, "ops").await.unwrap_err().to_string();
        assert!(
            error.contains("ops/kro-rs-hash-key")
                && error.contains("a key of 5 bytes")
                && error.contains("delete the Secret"),
            "{error}"
        );
        assert!(!error.contains("short"), "{error}");
    }

    #[tokio::test]
    async fn a_forbidden_secret_falls_back_to_a_key_of_this_process() {
        let fake = fake();
        fake.forbid("secrets");
        let api: Api<Secret> = Api::namespaced(fake.client(), "kro");
        let error = load_or_create(&api, "kro").await.unwrap_err();
        assert!(
            matches!(
                error,
                KeyError::Api {
                    forbidden: true,
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("needs get and create"),
            "{error}"
        );
        let (first, source) = load_or_fallback(&api, "kro").await.unwrap();
        assert_eq!(source, KeySource::ThisProcess);
        let (second, _) = load_or_fallback(&api, "kro").await.unwrap();
        assert_ne!(first, second, "each start makes up its own key");
        assert!(fake.get("v1", "Secret", "kro", SECRET_NAME).is_none());
    }

    #[tokio::test]
    async fn only_a_forbidden_secret_falls_back() {
        let fake = fake();
        let api: Api<Secret> = Api::namespaced(fake.client(), "kro");
        fake.insert(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": "kro"},
            "data": {SECRET_DATA_KEY: STANDARD.encode("short")}}));
        assert!(matches!(
            load_or_fallback(&api, "kro").await,
            Err(KeyError::Unusable { .. })
        ));
        let api: Api<Secret> = Api::namespaced(fake.client(), "other");
        let (key, source) = load_or_fallback(&api, "other").await.unwrap();
        assert_eq!(source, KeySource::Secret);
        assert_eq!(load_or_create(&api, "other").await.unwrap(), key);
    }

    #[test]
    fn keys_are_random_and_never_printed() {
        let (a, b) = (HashKey::random(), HashKey::random());
        assert_ne!(a, b);
        assert_eq!(format!("{a:?}"), "HashKey(32 bytes)");
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }
}
