//! Credentials and what they grant.
//!
//! A connection authenticates once, with a bearer token (`NETBAT/1 AUTH
//! <hex>`) or a TLS client certificate; the credential maps to a set of
//! capabilities ([`Grants`]) that every call on the connection carries to the
//! dispatcher. Tokens and certificates are stored only as blake3 digests and
//! looked up by comparing every stored digest in constant time. A revoked
//! credential stops working on open connections at their next request.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::AuthFailure;

/// The capabilities granted to a connection.
///
/// ```
/// use netbat::Grants;
/// let grants = Grants::of(["event.read", "projection.query"]);
/// assert!(grants.allows("event.read"));
/// assert!(!grants.allows("event.append"));
/// assert!(Grants::all().allows("anything"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Grants {
    all: bool,
    capabilities: BTreeSet<String>,
}

impl Grants {
    /// Every capability: what connections get when a server has no
    /// authentication configured.
    #[must_use]
    pub fn all() -> Self {
        Self {
            all: true,
            capabilities: BTreeSet::new(),
        }
    }

    /// No capability.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Exactly these capabilities.
    #[must_use]
    pub fn of<I, S>(capabilities: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            all: false,
            capabilities: capabilities.into_iter().map(Into::into).collect(),
        }
    }

    /// True when `capability` is granted.
    #[must_use]
    pub fn allows(&self, capability: &str) -> bool {
        self.all || self.capabilities.contains(capability)
    }

    /// True for [`Grants::all`].
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.all
    }

    /// The listed capabilities (empty for [`Grants::all`]).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.capabilities.iter().map(String::as_str)
    }
}

/// How a connection proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialKind {
    /// No authentication is configured.
    Anonymous,
    /// A bearer token.
    Token,
    /// A TLS client certificate.
    Certificate,
}

/// Names a stored credential (its kind and blake3 digest), for revocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CredentialId {
    kind: CredentialKind,
    digest: [u8; 32],
}

impl CredentialId {
    /// The credential's kind.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        self.kind
    }

    /// The blake3 digest of the token or of the certificate's DER bytes.
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
}

impl fmt::Debug for CredentialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}:{}",
            self.kind,
            crate::encode_hex(&self.digest[..8])
        )
    }
}

/// An authenticated connection's identity and grants.
#[derive(Clone, Debug)]
pub struct Principal {
    id: Option<CredentialId>,
    grants: Arc<Grants>,
    generation: u64,
}

impl Principal {
    /// The principal of a server without authentication: every capability.
    #[must_use]
    pub fn anonymous() -> Self {
        Self {
            id: None,
            grants: Arc::new(Grants::all()),
            generation: 0,
        }
    }

    /// The credential, or `None` for the anonymous principal.
    #[must_use]
    pub fn credential(&self) -> Option<CredentialId> {
        self.id
    }

    /// How the principal authenticated.
    #[must_use]
    pub fn kind(&self) -> CredentialKind {
        self.id.map_or(CredentialKind::Anonymous, |id| id.kind)
    }

    /// The grants at authentication time.
    #[must_use]
    pub fn grants(&self) -> &Arc<Grants> {
        &self.grants
    }
}

struct Entry {
    id: CredentialId,
    digest: blake3::Hash,
    grants: Arc<Grants>,
}

/// The credential table shared by a server's connections.
///
/// ```
/// use netbat::{Authenticator, Grants};
/// let auth = Authenticator::new();
/// let id = auth.add_token(b"s3cret", Grants::of(["event.read"]));
/// let principal = auth.authenticate_token(b"s3cret")?;
/// assert!(principal.grants().allows("event.read"));
/// assert!(auth.authenticate_token(b"guess").is_err());
/// auth.revoke(id);
/// assert!(auth.current_grants(&principal).is_err());
/// # Ok::<(), netbat::AuthFailure>(())
/// ```
#[derive(Default)]
pub struct Authenticator {
    entries: RwLock<Vec<Entry>>,
    generation: AtomicU64,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.entries.read().map_or(0, |entries| entries.len());
        f.debug_struct("Authenticator")
            .field("credentials", &count)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An empty table (every credential is refused).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The digest under which a token is stored: blake3 of its bytes.
    #[must_use]
    pub fn token_digest(token: &[u8]) -> [u8; 32] {
        *blake3::hash(token).as_bytes()
    }

    /// The digest under which a client certificate is stored: blake3 of its DER bytes.
    #[must_use]
    pub fn certificate_digest(der: &[u8]) -> [u8; 32] {
        *blake3::hash(der).as_bytes()
    }

    /// Adds a bearer token (only its digest is kept).
    pub fn add_token(&self, token: &[u8], grants: Grants) -> CredentialId {
        self.add_token_digest(Self::token_digest(token), grants)
    }

    /// Adds a bearer token by its digest, so that configuration never holds the token.
    pub fn add_token_digest(&self, digest: [u8; 32], grants: Grants) -> CredentialId {
        self.insert(CredentialKind::Token, digest, grants)
    }

    /// Adds a client certificate (DER); only its digest is kept.
    pub fn add_certificate(&self, der: &[u8], grants: Grants) -> CredentialId {
        self.insert(
            CredentialKind::Certificate,
            Self::certificate_digest(der),
            grants,
        )
    }

    fn insert(&self, kind: CredentialKind, digest: [u8; 32], grants: Grants) -> CredentialId {
        let id = CredentialId { kind, digest };
        let entry = Entry {
            id,
            digest: blake3::Hash::from_bytes(digest),
            grants: Arc::new(grants),
        };
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|existing| existing.id != id);
        entries.push(entry);
        self.generation.fetch_add(1, Ordering::AcqRel);
        id
    }

    /// Removes a credential; connections using it are refused at their next
    /// request. Returns whether it was present.
    pub fn revoke(&self, id: CredentialId) -> bool {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = entries.len();
        entries.retain(|entry| entry.id != id);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.len() != before
    }

    /// How many credentials are stored.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |entries| entries.len())
    }

    /// True when no credential is stored.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Authenticates a bearer token.
    ///
    /// # Errors
    /// [`AuthFailure::UnknownCredentials`].
    pub fn authenticate_token(&self, token: &[u8]) -> Result<Principal, AuthFailure> {
        self.lookup(CredentialKind::Token, blake3::hash(token))
    }

    /// Authenticates a TLS client certificate (DER of the end-entity certificate).
    ///
    /// # Errors
    /// [`AuthFailure::UnknownCredentials`].
    pub fn authenticate_certificate(&self, der: &[u8]) -> Result<Principal, AuthFailure> {
        self.lookup(CredentialKind::Certificate, blake3::hash(der))
    }

    /// The principal's grants now: the same as at authentication unless the
    /// credential was changed or revoked since.
    ///
    /// # Errors
    /// [`AuthFailure::RevokedCredentials`].
    pub fn current_grants(&self, principal: &Principal) -> Result<Arc<Grants>, AuthFailure> {
        let Some(id) = principal.id else {
            return Ok(Arc::clone(&principal.grants));
        };
        if self.generation.load(Ordering::Acquire) == principal.generation {
            return Ok(Arc::clone(&principal.grants));
        }
        self.lookup(id.kind, blake3::Hash::from_bytes(id.digest))
            .map(|fresh| fresh.grants)
            .map_err(|_| AuthFailure::RevokedCredentials)
    }

    /// Compares `digest` with every stored digest of `kind` (each comparison
    /// in constant time, no early exit).
    fn lookup(&self, kind: CredentialKind, digest: blake3::Hash) -> Result<Principal, AuthFailure> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let generation = self.generation.load(Ordering::Acquire);
        let mut found: Option<&Entry> = None;
        for entry in entries.iter() {
            let same = entry.digest == digest;
            if same && entry.id.kind == kind {
                found = Some(entry);
            }
        }
        found
            .map(|entry| Principal {
                id: Some(entry.id),
                grants: Arc::clone(&entry.grants),
                generation,
            })
            .ok_or(AuthFailure::UnknownCredentials)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn tokens_map_to_their_grants() {
        let auth = Authenticator::new();
        assert!(auth.is_empty());
        auth.add_token(b"reader", Grants::of(["event.read"]));
        auth.add_token(b"writer", Grants::of(["event.read", "event.append"]));
        assert_eq!(auth.len(), 2);
        let reader = auth.authenticate_token(b"reader").unwrap();
        assert_eq!(reader.kind(), CredentialKind::Token);
        assert!(reader.grants().allows("event.read"));
        assert!(!reader.grants().allows("event.append"));
        let writer = auth.authenticate_token(b"writer").unwrap();
        assert!(writer.grants().allows("event.append"));
        assert_eq!(
            auth.authenticate_token(b"writer2").unwrap_err(),
            AuthFailure::UnknownCredentials
        );
        assert_eq!(
            auth.authenticate_token(b"").unwrap_err(),
            AuthFailure::UnknownCredentials
        );
    }

    #[test]
    fn only_digests_are_stored_and_digests_can_be_configured() {
        let auth = Authenticator::new();
        let digest = Authenticator::token_digest(b"t");
        assert_eq!(digest, *blake3::hash(b"t").as_bytes());
        let id = auth.add_token_digest(digest, Grants::none());
        assert_eq!(id.digest(), digest);
        assert_eq!(id.kind(), CredentialKind::Token);
        assert!(auth.authenticate_token(b"t").is_ok());
        assert_eq!(format!("{auth:?}"), "Authenticator { credentials: 1, .. }");
    }

    #[test]
    fn a_token_digest_is_not_a_certificate() {
        let auth = Authenticator::new();
        auth.add_certificate(b"der", Grants::all());
        assert!(auth.authenticate_token(b"der").is_err());
        let principal = auth.authenticate_certificate(b"der").unwrap();
        assert_eq!(principal.kind(), CredentialKind::Certificate);
        assert!(principal.grants().is_all());
        assert_eq!(
            principal.credential().unwrap().digest(),
            Authenticator::certificate_digest(b"der")
        );
    }

    #[test]
    fn revocation_reaches_existing_principals() {
        let auth = Authenticator::new();
        let id = auth.add_token(b"t", Grants::of(["a"]));
        let other = auth.add_token(b"u", Grants::of(["b"]));
        let principal = auth.authenticate_token(b"t").unwrap();
        assert!(auth.current_grants(&principal).unwrap().allows("a"));
        assert!(auth.revoke(id));
        assert!(!auth.revoke(id));
        assert_eq!(
            auth.current_grants(&principal).unwrap_err(),
            AuthFailure::RevokedCredentials
        );
        assert!(auth.authenticate_token(b"t").is_err());
        let still = auth.authenticate_token(b"u").unwrap();
        assert!(auth.current_grants(&still).unwrap().allows("b"));
        assert_eq!(still.credential(), Some(other));
    }

    #[test]
    fn re_adding_replaces_grants() {
        let auth = Authenticator::new();
        auth.add_token(b"t", Grants::of(["a"]));
        let principal = auth.authenticate_token(b"t").unwrap();
        auth.add_token(b"t", Grants::of(["b"]));
        assert_eq!(auth.len(), 1);
        let now = auth.current_grants(&principal).unwrap();
        assert!(now.allows("b") && !now.allows("a"));
    }

    #[test]
    fn anonymous_has_everything() {
        let anonymous = Principal::anonymous();
        assert_eq!(anonymous.kind(), CredentialKind::Anonymous);
        assert!(anonymous.credential().is_none());
        let auth = Authenticator::new();
        assert!(auth.current_grants(&anonymous).unwrap().is_all());
    }

    #[test]
    fn grants_listing() {
        let grants = Grants::of(["b", "a"]);
        assert_eq!(grants.iter().collect::<Vec<_>>(), vec!["a", "b"]);
        assert!(!grants.is_all());
        assert!(Grants::none().iter().next().is_none());
        assert!(!Grants::none().allows("a"));
    }
}
