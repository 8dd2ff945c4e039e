//! Payload encryption (feature `payload-encryption`): the keys of a store,
//! the seal and the open of payloads, the keyset durability fence, and
//! the shred that destroys a scope's key.
//!
//! Every user event's payload is sealed with XChaCha20-Poly1305 under the
//! key of its scope ([`KeyScopeGranularity`]), with a random 192-bit nonce
//! and associated data binding it to its event (`format::sealed`). Keys are
//! 256-bit, drawn from the operating system's generator, held in memory
//! in buffers wiped on drop, and kept in the keyset file (`format::keyset`),
//! which is replaced atomically. System and denial kinds stay plaintext.
//!
//! Durability: a key exists on disk before any frame that needs it. Minting
//! or destroying a key makes the keyset dirty; the writer's hook
//! ([`WriteHook::before_write`]) flushes a dirty keyset before a request's
//! frames join the group buffer, so before they can reach a segment under
//! any sync mode. A flush that fails fails that request closed and leaves
//! the keyset dirty, so the next request flushes again: what decides the
//! fence is "dirty", never "this request minted".

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use foldhash::fast::RandomState;
use parking_lot::{Mutex, RwLock};
use zeroize::Zeroizing;

use crate::error::{Corruption, StoreError};
use crate::format::{
    self, decode_sealed, encode_sealed_prefix, sealed_aad, DecodeError, KeysetHeader, KEYSET_FILE,
    KEY_LEN, NONCE_LEN, SEALED_PREFIX_LEN,
};
use crate::fs::StoreFs;
use crate::keyscope::KeyScopeGranularity;
use crate::seam::{Opened, PayloadAt, PayloadTransform, StagedEvent, WriteHook};
use crate::shred::{scope_id, selector_scope_id, ShredScope};

/// Context of the key an idempotency digest is keyed with (derived from
/// the scope key, so a shred destroys it too).
const DIGEST_CONTEXT: &str = "batpak 2026 idempotency digest of a sealed payload v1";

/// A 256-bit key, wiped when dropped; its bytes never reach `Debug`.
struct PayloadKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PayloadKey(..)")
    }
}

/// The key of one scope and its number.
#[derive(Debug)]
struct ScopeKey {
    number: u64,
    key: PayloadKey,
}

/// The keys in memory and how far the keyset file has caught up with them.
#[derive(Debug)]
struct Keys {
    by_scope: HashMap<Vec<u8>, ScopeKey, RandomState>,
    next_key_number: u64,
    /// Bumped by every mint and destroy.
    version: u64,
    /// The version the keyset file last durably recorded.
    durable: u64,
}

impl Keys {
    fn empty() -> Self {
        Self {
            by_scope: HashMap::default(),
            next_key_number: 1,
            version: 0,
            durable: 0,
        }
    }

    fn is_dirty(&self) -> bool {
        self.version != self.durable
    }

    /// The keyset file's bytes for these keys (in a buffer wiped on drop).
    fn encode(&self, granularity: KeyScopeGranularity) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        let mut records: Vec<(u64, &[u8], &[u8; KEY_LEN])> = self
            .by_scope
            .iter()
            .map(|(scope, k)| (k.number, scope.as_slice(), &*k.key.0))
            .collect();
        records.sort_unstable_by_key(|r| r.0);
        format::encode_keyset(
            &mut out,
            KeysetHeader {
                granularity,
                next_key_number: self.next_key_number,
            },
            records.into_iter(),
        );
        out
    }
}

/// The keys of one store, shared by its writer and its readers.
pub(crate) struct KeyRing {
    granularity: KeyScopeGranularity,
    dir: PathBuf,
    fs: Arc<dyn StoreFs>,
    keys: RwLock<Keys>,
    /// Held across a flush, so two flushes never publish out of order.
    flushing: Mutex<()>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.keys.read();
        f.debug_struct("KeyRing")
            .field("granularity", &self.granularity)
            .field("keys", &keys.by_scope.len())
            .field("dirty", &keys.is_dirty())
            .finish_non_exhaustive()
    }
}

/// Fills `buf` from the operating system's generator.
fn random(buf: &mut [u8], dir: &Path) -> Result<(), StoreError> {
    getrandom::getrandom(buf)
        .map_err(|e| StoreError::io("draw random bytes", dir, std::io::Error::from(e)))
}

impl KeyRing {
    /// Loads the keyset of the store in `dir`, checked against the
    /// configured granularity. `Ok(None)`: no encryption (nothing
    /// configured and no keyset). A writer (`writable`) without a
    /// configured granularity refuses a store that has a keyset (its
    /// appends would go unsealed); a reader takes the recorded one.
    pub(crate) fn open(
        dir: &Path,
        fs: Arc<dyn StoreFs>,
        configured: Option<KeyScopeGranularity>,
        writable: bool,
    ) -> Result<Option<Arc<Self>>, StoreError> {
        let loaded = load(dir, fs.as_ref())?;
        let (granularity, keys) = match (loaded, configured) {
            (None, None) => return Ok(None),
            (None, Some(g)) => (g, Keys::empty()),
            (Some((stored, keys)), configured) => {
                let ok = match configured {
                    Some(g) => g == stored,
                    None => !writable,
                };
                if !ok {
                    return Err(StoreError::KeyScopeGranularityMismatch { stored, configured });
                }
                (stored, keys)
            }
        };
        Ok(Some(Arc::new(Self {
            granularity,
            dir: dir.to_path_buf(),
            fs,
            keys: RwLock::new(keys),
            flushing: Mutex::new(()),
        })))
    }

    /// The granularity the keys are scoped by.
    #[cfg(test)]
    pub(crate) fn granularity(&self) -> KeyScopeGranularity {
        self.granularity
    }

    /// How many keys exist.
    #[cfg(test)]
    pub(crate) fn key_count(&self) -> usize {
        self.keys.read().by_scope.len()
    }

    /// Whether some mint or destroy has not reached the keyset file yet.
    pub(crate) fn is_dirty(&self) -> bool {
        self.keys.read().is_dirty()
    }

    fn path(&self) -> PathBuf {
        self.dir.join(KEYSET_FILE)
    }

    /// Makes the keyset file record every key in memory (atomic replace:
    /// temp file, fsync, rename, directory fsync). On failure the keyset
    /// stays dirty and the file holds either the old or the new keyset.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let _one = self.flushing.lock();
        let (version, bytes) = {
            let keys = self.keys.read();
            if !keys.is_dirty() {
                return Ok(());
            }
            (keys.version, keys.encode(self.granularity))
        };
        let path = self.path();
        crate::fs::write_atomic(self.fs.as_ref(), &path, &bytes)
            .map_err(|e| StoreError::io("write keyset", &path, e))?;
        let mut keys = self.keys.write();
        keys.durable = keys.durable.max(version);
        Ok(())
    }

    /// Destroys the key `selector` names and makes that durable. Returns
    /// whether a key existed. A selector that does not fit the granularity
    /// is refused and destroys nothing. If the keyset cannot be written the
    /// key is kept (reads go on working) and the error returned; the file
    /// then holds the old or the new keyset, so retry the shred.
    pub(crate) fn shred(&self, selector: &ShredScope<'_>) -> Result<bool, StoreError> {
        let scope = selector_scope_id(self.granularity, selector).ok_or(
            StoreError::ShredScopeMismatch {
                granularity: self.granularity,
                selector: selector.name(),
            },
        )?;
        let _one = self.flushing.lock();
        // Held across the write: no seal may use the key meanwhile, and a
        // failed write can put it back exactly.
        let mut keys = self.keys.write();
        let Some(removed) = keys.by_scope.remove(&scope) else {
            return Ok(false);
        };
        keys.version += 1;
        let bytes = keys.encode(self.granularity);
        let path = self.path();
        match crate::fs::write_atomic(self.fs.as_ref(), &path, &bytes) {
            Ok(()) => {
                keys.durable = keys.version;
                Ok(true)
            }
            Err(e) => {
                // Still dirty: whatever the file now holds, the next flush rewrites it.
                keys.by_scope.insert(scope, removed);
                Err(StoreError::io("write keyset", &path, e))
            }
        }
    }

    /// Reads the keyset file again (a read-only store catching up with its
    /// writer). Returns whether a key this ring held is gone.
    pub(crate) fn reload(&self) -> Result<bool, StoreError> {
        let Some((stored, fresh)) = load(&self.dir, self.fs.as_ref())? else {
            // The writer's keyset is gone: keep what is known rather than shred everything here.
            return Ok(false);
        };
        if stored != self.granularity {
            return Err(StoreError::KeyScopeGranularityMismatch {
                stored,
                configured: Some(self.granularity),
            });
        }
        let mut keys = self.keys.write();
        let lost = keys.by_scope.iter().any(|(scope, k)| {
            fresh
                .by_scope
                .get(scope)
                .is_none_or(|f| f.number != k.number)
        });
        *keys = fresh;
        Ok(lost)
    }

    /// Seals `plaintext` under the key of `at`'s scope, minting the key
    /// if the scope has none.
    fn seal(&self, at: PayloadAt<'_>, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce, &self.dir)?;
        let scope = scope_id(self.granularity, at.coordinate, at.kind, at.event_id);
        let mut out = Vec::with_capacity(plaintext.len() + format::SEALED_OVERHEAD);
        let keys = self.keys.upgradable_read();
        let sealed = match keys.by_scope.get(&scope) {
            Some(k) => seal_with(k, &nonce, at, plaintext, &mut out),
            None => {
                let mut keys = parking_lot::RwLockUpgradableReadGuard::upgrade(keys);
                let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
                random(&mut bytes[..], &self.dir)?;
                let number = keys.next_key_number;
                keys.next_key_number += 1;
                keys.version += 1;
                let k = ScopeKey {
                    number,
                    key: PayloadKey(bytes),
                };
                let r = seal_with(&k, &nonce, at, plaintext, &mut out);
                keys.by_scope.insert(scope, k);
                r
            }
        };
        sealed.map(|()| out)
    }
}

/// Seals into `out`: prefix, ciphertext, tag.
fn seal_with(
    k: &ScopeKey,
    nonce: &[u8; NONCE_LEN],
    at: PayloadAt<'_>,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    encode_sealed_prefix(out, k.number, nonce);
    out.extend_from_slice(plaintext);
    let aad = sealed_aad(k.number, at.coordinate, at.kind, at.event_id);
    let cipher = XChaCha20Poly1305::new(Key::from_slice(&k.key.0[..]));
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(nonce),
            &aad,
            &mut out[SEALED_PREFIX_LEN..],
        )
        .map_err(|_| StoreError::Serialization {
            source: "the payload could not be sealed".into(),
        })?;
    out.extend_from_slice(&tag);
    Ok(())
}

/// Reads and checks the keyset file in `dir`; `Ok(None)` if there is none.
fn load(dir: &Path, fs: &dyn StoreFs) -> Result<Option<(KeyScopeGranularity, Keys)>, StoreError> {
    let path = dir.join(KEYSET_FILE);
    let exists = fs
        .exists(&path)
        .map_err(|e| StoreError::io("stat keyset", &path, e))?;
    if !exists {
        return Ok(None);
    }
    let bytes = Zeroizing::new(
        crate::fs::read_all(fs, &path, format::MAX_KEYSET_FILE)
            .map_err(|e| StoreError::io("read keyset", &path, e))?,
    );
    let mut keys = Keys::empty();
    let header = format::decode_keyset(&bytes, |number, scope, key| {
        let k = ScopeKey {
            number,
            key: PayloadKey(Zeroizing::new(*key)),
        };
        if keys.by_scope.insert(scope.to_vec(), k).is_some() {
            return Err(DecodeError::Inconsistent {
                offset: 0,
                problem: "a key scope is listed twice",
            });
        }
        Ok(())
    })
    .map_err(|source| StoreError::KeysetCorrupt {
        path: path.clone(),
        reason: Corruption::Decode {
            structure: "keyset",
            source,
        },
    })?;
    keys.next_key_number = header.next_key_number;
    Ok(Some((header.granularity, keys)))
}

impl PayloadTransform for KeyRing {
    fn apply(&self, at: PayloadAt<'_>, payload: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        // The store's own records (system and denial kinds) stay plaintext:
        // they are mechanism, not user data, and must never be shreddable.
        if at.kind.is_reserved() {
            return Ok(payload);
        }
        let plaintext = Zeroizing::new(payload);
        self.seal(at, &plaintext)
    }

    fn digest(&self, at: PayloadAt<'_>, payload: &[u8]) -> Result<Option<[u8; 32]>, StoreError> {
        let scope = scope_id(self.granularity, at.coordinate, at.kind, at.event_id);
        let keys = self.keys.read();
        Ok(keys.by_scope.get(&scope).map(|k| {
            let derived = Zeroizing::new(blake3::derive_key(DIGEST_CONTEXT, &k.key.0[..]));
            *blake3::keyed_hash(&derived, payload).as_bytes()
        }))
    }

    fn open(&self, at: PayloadAt<'_>, stored: &[u8]) -> Result<Opened, StoreError> {
        let failed = |reason| StoreError::PayloadDecryptFailed {
            event_id: at.event_id,
            reason,
        };
        let view = decode_sealed(stored).map_err(|_| failed("malformed sealed payload"))?;
        let scope = scope_id(self.granularity, at.coordinate, at.kind, at.event_id);
        let keys = self.keys.read();
        let Some(k) = keys
            .by_scope
            .get(&scope)
            .filter(|k| k.number == view.key_number)
        else {
            // No key of that number for the scope: destroyed (numbers are never reused).
            return Ok(Opened::Shredded);
        };
        let aad = sealed_aad(k.number, at.coordinate, at.kind, at.event_id);
        let mut buf = view.ciphertext.to_vec();
        XChaCha20Poly1305::new(Key::from_slice(&k.key.0[..]))
            .decrypt_in_place_detached(
                XNonce::from_slice(&view.nonce),
                &aad,
                &mut buf,
                Tag::from_slice(&view.tag),
            )
            .map_err(|_| failed("authentication failed (altered bytes or moved payload)"))?;
        Ok(Opened::Plain(buf))
    }
}

impl WriteHook for KeyRing {
    fn before_write(&self, events: &[StagedEvent<'_>]) -> Result<(), StoreError> {
        // Only sealed events need a key on disk; a dirty keyset is flushed
        // before any of them can be written, whoever made it dirty.
        if events.iter().any(|e| !e.header.kind.is_reserved()) && self.is_dirty() {
            self.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::coordinate::Coordinate;
    use crate::fs::RealFs;
    use crate::id::EventId;
    use crate::kind::EventKind;

    const K: EventKind = EventKind::custom(0xE, 1);

    fn ring(dir: &Path, g: KeyScopeGranularity) -> Arc<KeyRing> {
        KeyRing::open(dir, Arc::new(RealFs), Some(g), true)
            .unwrap()
            .unwrap()
    }

    fn at<'a>(c: &'a Coordinate, id: u128) -> PayloadAt<'a> {
        PayloadAt {
            coordinate: c,
            kind: K,
            event_id: EventId::from_u128(id),
        }
    }

    #[test]
    fn a_sealed_payload_opens_only_for_its_own_event() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let c = Coordinate::new("a", "s").unwrap();
        let sealed = r.apply(at(&c, 1), b"\x92\x01\x02".to_vec()).unwrap();
        assert!(format::is_sealed(&sealed));
        assert_eq!(sealed.len(), 3 + format::SEALED_OVERHEAD);
        assert_eq!(
            r.open(at(&c, 1), &sealed).unwrap(),
            Opened::Plain(b"\x92\x01\x02".to_vec())
        );
        // Same key (same entity), another event id, scope or kind: refused.
        let other_scope = Coordinate::new("a", "t").unwrap();
        for wrong in [
            at(&c, 2),
            at(&other_scope, 1),
            PayloadAt {
                kind: EventKind::custom(0xE, 2),
                ..at(&c, 1)
            },
        ] {
            let err = r.open(wrong, &sealed).unwrap_err();
            assert!(
                matches!(err, StoreError::PayloadDecryptFailed { .. }),
                "{err:?}"
            );
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 20;
        flipped[last] ^= 1;
        assert!(matches!(
            r.open(at(&c, 1), &flipped),
            Err(StoreError::PayloadDecryptFailed { .. })
        ));
        assert!(
            r.open(at(&c, 1), &sealed[..10]).is_err(),
            "no panic on a short payload"
        );
    }

    #[test]
    fn nonces_are_fresh_so_one_payload_seals_differently_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let c = Coordinate::new("a", "s").unwrap();
        let one = r.apply(at(&c, 1), b"\x01".to_vec()).unwrap();
        let two = r.apply(at(&c, 1), b"\x01".to_vec()).unwrap();
        assert_ne!(one, two);
        assert_eq!(r.key_count(), 1, "one key per entity");
        let d1 = r.digest(at(&c, 1), b"\x01").unwrap().unwrap();
        assert_eq!(r.digest(at(&c, 9), b"\x01").unwrap(), Some(d1));
        assert_ne!(r.digest(at(&c, 1), b"\x02").unwrap(), Some(d1));
        assert_ne!(d1, *blake3::hash(b"\x01").as_bytes(), "the digest is keyed");
    }

    #[test]
    fn reserved_kinds_stay_plaintext_and_mint_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let c = Coordinate::new("a", "s").unwrap();
        let denial = PayloadAt {
            kind: crate::denial::DENIAL_KIND,
            ..at(&c, 1)
        };
        assert_eq!(r.apply(denial, b"\x80".to_vec()).unwrap(), b"\x80");
        assert_eq!(r.key_count(), 0);
        assert!(!r.is_dirty());
    }

    #[test]
    fn a_mint_dirties_the_keyset_until_a_flush_and_the_flush_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEvent);
        let c = Coordinate::new("a", "s").unwrap();
        let s1 = r.apply(at(&c, 1), b"\x01".to_vec()).unwrap();
        assert!(r.is_dirty());
        assert!(!dir.path().join(KEYSET_FILE).exists());
        r.flush().unwrap();
        assert!(!r.is_dirty());
        let again = ring(dir.path(), KeyScopeGranularity::PerEvent);
        assert_eq!(again.open(at(&c, 1), &s1).unwrap(), Opened::Plain(vec![1]));
        assert!(matches!(
            KeyRing::open(
                dir.path(),
                Arc::new(RealFs),
                Some(KeyScopeGranularity::PerEntity),
                true
            ),
            Err(StoreError::KeyScopeGranularityMismatch {
                stored: KeyScopeGranularity::PerEvent,
                configured: Some(KeyScopeGranularity::PerEntity)
            })
        ));
        assert!(matches!(
            KeyRing::open(dir.path(), Arc::new(RealFs), None, true),
            Err(StoreError::KeyScopeGranularityMismatch {
                configured: None,
                ..
            })
        ));
        let reader = KeyRing::open(dir.path(), Arc::new(RealFs), None, false)
            .unwrap()
            .unwrap();
        assert_eq!(reader.granularity(), KeyScopeGranularity::PerEvent);
    }

    #[test]
    fn a_shred_is_durable_and_a_new_key_never_opens_old_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let a = Coordinate::new("a", "s").unwrap();
        let b = Coordinate::new("b", "s").unwrap();
        let old = r.apply(at(&a, 1), b"\x01".to_vec()).unwrap();
        let kept = r.apply(at(&b, 2), b"\x02".to_vec()).unwrap();
        r.flush().unwrap();
        assert!(r.shred(&ShredScope::Entity(&a)).unwrap());
        assert!(
            !r.shred(&ShredScope::Entity(&a)).unwrap(),
            "no key the second time"
        );
        assert!(!r.is_dirty(), "the shred flushed");
        assert_eq!(r.open(at(&a, 1), &old).unwrap(), Opened::Shredded);
        // A later append to the same entity mints a new key, which the old payload never meets.
        let new = r.apply(at(&a, 3), b"\x03".to_vec()).unwrap();
        assert_eq!(r.open(at(&a, 1), &old).unwrap(), Opened::Shredded);
        assert_eq!(r.open(at(&a, 3), &new).unwrap(), Opened::Plain(vec![3]));
        r.flush().unwrap();
        let reopened = ring(dir.path(), KeyScopeGranularity::PerEntity);
        assert_eq!(reopened.open(at(&a, 1), &old).unwrap(), Opened::Shredded);
        assert_eq!(
            reopened.open(at(&b, 2), &kept).unwrap(),
            Opened::Plain(vec![2])
        );
        let err = r.shred(&ShredScope::Kind(K)).unwrap_err();
        assert!(
            matches!(err, StoreError::ShredScopeMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_damaged_keyset_fails_closed_and_never_means_no_keys() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let c = Coordinate::new("a", "s").unwrap();
        r.apply(at(&c, 1), b"\x01".to_vec()).unwrap();
        r.flush().unwrap();
        let path = dir.path().join(KEYSET_FILE);
        let good = std::fs::read(&path).unwrap();
        let open = || {
            KeyRing::open(
                dir.path(),
                Arc::new(RealFs),
                Some(KeyScopeGranularity::PerEntity),
                true,
            )
        };
        for bad in [
            good[..good.len() - 1].to_vec(),
            Vec::new(),
            b"garbage".to_vec(),
            {
                let mut b = good.clone();
                b[30] ^= 1;
                b
            },
        ] {
            std::fs::write(&path, &bad).unwrap();
            let err = open().unwrap_err();
            assert!(matches!(err, StoreError::KeysetCorrupt { .. }), "{err:?}");
        }
    }

    #[test]
    fn no_key_byte_reaches_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let r = ring(dir.path(), KeyScopeGranularity::PerEntity);
        let c = Coordinate::new("a", "s").unwrap();
        r.apply(at(&c, 1), b"\x01".to_vec()).unwrap();
        r.flush().unwrap();
        let text = format!("{r:?} {:?}", r.keys.read());
        assert!(
            text.contains("PayloadKey(..)") || text.contains("keys: 1"),
            "{text}"
        );
        let file = std::fs::read(dir.path().join(KEYSET_FILE)).unwrap();
        let key = &file[file.len() - 4 - KEY_LEN..file.len() - 4];
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let dec = format!("{key:?}");
        assert!(
            !text.contains(&hex) && !text.contains(&dec[1..dec.len() - 1]),
            "{text}"
        );
    }
}
