//! The bytes of index files as the index reads them: a page at a time
//! through a bounded cache, each page checked against its CRC when it is
//! read from disk, or from memory for an index built from a footer.
//!
//! A file that fails a read (an I/O error, a page whose CRC fails) is never
//! used again: its part rebuilds the same bytes from the segment's footer,
//! holds them in memory, and answers from them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use foldhash::fast::RandomState;
use parking_lot::Mutex;

use crate::error::{Corruption, StoreError};
use crate::format::{index_page_data, INDEX_PAGE_DATA, INDEX_PAGE_LEN};
use crate::fs::StoreFile;

/// Checked pages by `(file key, page)`, and their keys in the order they
/// came in (the oldest makes room when the cache is full).
#[derive(Default)]
struct Pages {
    by_key: HashMap<(u64, u64), Arc<[u8]>, RandomState>,
    order: std::collections::VecDeque<(u64, u64)>,
}

/// Checked pages of index files, keyed by `(file key, page)`. When full,
/// the page that came in first makes room.
pub(crate) struct PageCache {
    pages: Mutex<Pages>,
    capacity: usize,
    next_key: AtomicU64,
    /// Index files that failed a read and were rebuilt in memory.
    rebuilt: AtomicU64,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageCache({} pages max)", self.capacity)
    }
}

impl PageCache {
    /// A cache of at most `bytes` of pages (at least one page).
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            pages: Mutex::new(Pages::default()),
            capacity: (bytes / INDEX_PAGE_LEN).max(1),
            next_key: AtomicU64::new(0),
            rebuilt: AtomicU64::new(0),
        }
    }

    /// Index files that failed a read since open and are answered from
    /// bytes rebuilt from their segment's footer.
    pub(crate) fn rebuilt(&self) -> u64 {
        self.rebuilt.load(Ordering::Relaxed)
    }

    /// Bytes of pages it holds now.
    pub(crate) fn held_bytes(&self) -> usize {
        self.pages.lock().by_key.len() * INDEX_PAGE_LEN
    }

    /// Bytes of pages it holds at most.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.capacity * INDEX_PAGE_LEN
    }

    fn get(&self, key: (u64, u64)) -> Option<Arc<[u8]>> {
        self.pages.lock().by_key.get(&key).cloned()
    }

    fn insert(&self, key: (u64, u64), page: Arc<[u8]>) {
        let mut pages = self.pages.lock();
        if pages.by_key.insert(key, page).is_some() {
            return;
        }
        pages.order.push_back(key);
        while pages.by_key.len() > self.capacity {
            match pages.order.pop_front() {
                Some(oldest) => {
                    pages.by_key.remove(&oldest);
                }
                None => break,
            }
        }
    }
}

/// Rebuilds the logical bytes of an index file from its segment's footer.
pub(crate) type Rebuild = Box<dyn Fn() -> Result<Vec<u8>, StoreError> + Send + Sync>;

/// What a file-backed source falls back to once its file fails a read.
pub(crate) struct Heal {
    rebuild: Rebuild,
    healed: std::sync::OnceLock<Arc<[u8]>>,
    /// Held while rebuilding, so one thread rebuilds.
    rebuilding: Mutex<()>,
}

impl std::fmt::Debug for Heal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let healed = self.healed.get().is_some();
        write!(f, "Heal {{ healed: {healed} }}")
    }
}

impl Heal {
    /// A fallback that calls `rebuild` the first time it is needed.
    pub(crate) fn new(rebuild: Rebuild) -> Self {
        Self {
            rebuild,
            healed: std::sync::OnceLock::new(),
            rebuilding: Mutex::new(()),
        }
    }
}

/// Where the logical bytes of one index file come from.
#[derive(Debug)]
pub(crate) enum IndexSource {
    /// The file on disk, `len` bytes long.
    File {
        file: Arc<dyn StoreFile>,
        path: PathBuf,
        len: u64,
        /// Its pages' key in `cache` (a file of its own, whatever its name).
        key: u64,
        cache: Arc<PageCache>,
        /// Where its bytes come from once the file fails a read.
        heal: Option<Heal>,
    },
    /// Logical bytes built in memory.
    Memory(Arc<[u8]>),
}

impl IndexSource {
    /// The file at `path`, read through `cache`.
    pub(crate) fn file(
        file: Arc<dyn StoreFile>,
        path: PathBuf,
        cache: Arc<PageCache>,
        heal: Option<Heal>,
    ) -> Result<Self, StoreError> {
        let len = file
            .len()
            .map_err(|e| StoreError::io("stat index file", &path, e))?;
        let key = cache.next_key.fetch_add(1, Ordering::Relaxed);
        Ok(Self::File {
            file,
            path,
            len,
            key,
            cache,
            heal,
        })
    }

    /// Logical bytes it holds.
    pub(crate) fn logical_len(&self) -> u64 {
        match self {
            Self::File { len, .. } => {
                let pages = len.div_ceil(INDEX_PAGE_LEN as u64);
                len.saturating_sub(pages * 4)
            }
            Self::Memory(bytes) => bytes.len() as u64,
        }
    }

    /// The `len` logical bytes at `offset`.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let end = offset.saturating_add(len as u64);
        if end > self.logical_len() {
            return Err(self.damaged(offset, "a table runs past the end of the file"));
        }
        match self {
            Self::Memory(bytes) => Ok(bytes[offset as usize..end as usize].to_vec()),
            Self::File { heal, .. } => {
                if let Some(bytes) = heal.as_ref().and_then(|h| h.healed.get()) {
                    return Ok(bytes[offset as usize..end as usize].to_vec());
                }
                match self.read_file(offset, end, len) {
                    Ok(out) => Ok(out),
                    Err(e) => match heal {
                        Some(h) => {
                            let bytes = self.heal(h, &e)?;
                            Ok(bytes[offset as usize..end as usize].to_vec())
                        }
                        None => Err(e),
                    },
                }
            }
        }
    }

    /// Calls `f` on the `len` logical bytes at `offset`: in place when they
    /// lie in one page (or in memory), else on a copy.
    pub(crate) fn with<R>(
        &self,
        offset: u64,
        len: usize,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R, StoreError> {
        let end = offset.saturating_add(len as u64);
        if end > self.logical_len() {
            return Err(self.damaged(offset, "a table runs past the end of the file"));
        }
        let page_data = INDEX_PAGE_DATA as u64;
        match self {
            Self::Memory(bytes) => Ok(f(&bytes[offset as usize..end as usize])),
            Self::File { heal, .. } => {
                if let Some(bytes) = heal.as_ref().and_then(|h| h.healed.get()) {
                    return Ok(f(&bytes[offset as usize..end as usize]));
                }
                let page = offset / page_data;
                if len > 0 && (end - 1) / page_data == page {
                    if let Ok(data) = self.page(page) {
                        let from = (offset - page * page_data) as usize;
                        if let Some(b) = data.get(from..from + len) {
                            return Ok(f(b));
                        }
                    }
                }
                // Across pages, or a page that failed (read heals it).
                self.read(offset, len).map(|b| f(&b))
            }
        }
    }

    /// Rebuilds the bytes of a file that failed a read with `failure`.
    fn heal(&self, h: &Heal, failure: &StoreError) -> Result<Arc<[u8]>, StoreError> {
        let _one = h.rebuilding.lock();
        if let Some(bytes) = h.healed.get() {
            return Ok(bytes.clone());
        }
        let bytes = (h.rebuild)()?;
        if bytes.len() as u64 != self.logical_len() {
            return Err(self.damaged(0, "rebuilt from the footer, it has another length"));
        }
        let bytes: Arc<[u8]> = bytes.into();
        if let Self::File { cache, path, .. } = self {
            tracing::warn!(index_file = %path.display(), error = %failure, "an index file failed a read; its part answers from its segment's footer");
            cache.rebuilt.fetch_add(1, Ordering::Relaxed);
        }
        Ok(h.healed.get_or_init(|| bytes).clone())
    }

    /// The logical bytes `offset..end` read from the file, `len` of them.
    fn read_file(&self, offset: u64, end: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut out = Vec::with_capacity(len);
        let mut at = offset;
        while at < end {
            let page = at / INDEX_PAGE_DATA as u64;
            let data = self.page(page)?;
            let from = (at - page * INDEX_PAGE_DATA as u64) as usize;
            let take = ((end - at) as usize).min(data.len().saturating_sub(from));
            if take == 0 {
                return Err(self.damaged(at, "a page shorter than its place"));
            }
            out.extend_from_slice(&data[from..from + take]);
            at += take as u64;
        }
        Ok(out)
    }

    /// The checked logical bytes of page `page` of a file.
    fn page(&self, page: u64) -> Result<Arc<[u8]>, StoreError> {
        let Self::File {
            file,
            path,
            len,
            key,
            cache,
            ..
        } = self
        else {
            return Err(self.damaged(0, "not a file"));
        };
        if let Some(hit) = cache.get((*key, page)) {
            return Ok(hit);
        }
        let at = page * INDEX_PAGE_LEN as u64;
        let n = (*len - at).min(INDEX_PAGE_LEN as u64) as usize;
        let mut stored = vec![0u8; n];
        file.read_exact_at(&mut stored, at)
            .map_err(|e| StoreError::io("read index file", path, e))?;
        let data: Arc<[u8]> = index_page_data(&stored, page)
            .map_err(|e| {
                StoreError::corrupt_segment(
                    path,
                    at,
                    Corruption::Decode {
                        structure: "index file",
                        source: e,
                    },
                )
            })?
            .into();
        cache.insert((*key, page), data.clone());
        Ok(data)
    }

    fn damaged(&self, offset: u64, problem: &'static str) -> StoreError {
        let path = match self {
            Self::File { path, .. } => path.clone(),
            Self::Memory(_) => PathBuf::from("(index built in memory)"),
        };
        StoreError::corrupt_segment(
            &path,
            offset,
            Corruption::Decode {
                structure: "index file",
                source: crate::format::DecodeError::Inconsistent { offset, problem },
            },
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_full_cache_lets_its_oldest_page_go_and_never_holds_more() {
        let cache = PageCache::new(3 * INDEX_PAGE_LEN);
        let page = |n: u8| -> Arc<[u8]> { vec![n; 8].into() };
        for n in 0..3u8 {
            cache.insert((1, u64::from(n)), page(n));
        }
        // Inserting a page it holds changes nothing.
        cache.insert((1, 0), page(9));
        assert_eq!(cache.held_bytes(), 3 * INDEX_PAGE_LEN);
        cache.insert((2, 0), page(7));
        assert_eq!(cache.held_bytes(), 3 * INDEX_PAGE_LEN);
        assert!(cache.get((1, 0)).is_none(), "the oldest went");
        assert_eq!(cache.get((1, 1)).unwrap()[0], 1);
        assert_eq!(cache.get((2, 0)).unwrap()[0], 7);
        assert_eq!(cache.capacity_bytes(), 3 * INDEX_PAGE_LEN);
    }
}
