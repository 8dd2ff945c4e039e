//! The Merkle tree over every event in commit order, kept in level files.
//!
//! Leaf `i` is `SHA-256(0x00 ‖ event_hash)` of the event at global sequence
//! `i` (RFC 6962 hashing, `proofbat`). The files of levels 0, 4, 8, … (see
//! `format::tree_level`) hold the roots of the aligned perfect subtrees of
//! those heights, so any perfect subtree is one record or the fold of at
//! most eight, and a proof at any size reads O(log n) records.
//!
//! Records are appended in memory first and written out in batches; the
//! files are synced before a head is recorded. What a crash leaves unwritten
//! is rebuilt from the log at the next open (`crate::evidence`), so a write
//! failure here never fails an append.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proofbat::{node_hash, Hash, ProofError, SubtreeSource};

use crate::error::StoreError;
use crate::format::{
    decode_tree_level_header, encode_tree_level_header, tree_level_file_name, TREE_DIR,
    TREE_LEVEL_HEADER_LEN, TREE_LEVEL_STRIDE, TREE_RECORD_LEN,
};
use crate::fs::{OpenMode, StoreFile, StoreFs};

/// Children of one stored record at the next stored level.
const FAN_OUT: u64 = 1 << TREE_LEVEL_STRIDE;
/// Leaves buffered before the writer writes them out unasked.
pub(crate) const WRITE_OUT_EVERY: usize = 256;

/// One stored level.
#[derive(Debug, Default)]
struct Level {
    file: Option<Arc<dyn StoreFile>>,
    /// Records in the file.
    on_disk: u64,
    /// Records after them, not yet written.
    mem: Vec<Hash>,
    /// Written since the last sync.
    dirty: bool,
    /// Bytes of the file the last successful fsync made durable (0 for a
    /// file this run created and has not synced yet).
    durable_len: u64,
    /// An fsync failed: the pages it could not write are lost even to
    /// later fsyncs, so the bytes past `durable_len` are written again
    /// before the next one.
    rewrite: bool,
}

impl Level {
    fn len(&self) -> u64 {
        self.on_disk + self.mem.len() as u64
    }
}

/// File name of stored level `k` (level `k × TREE_LEVEL_STRIDE` of the tree).
fn level_name(k: usize) -> String {
    tree_level_file_name(k as u32 * TREE_LEVEL_STRIDE)
}

/// Where record `i` of a level file starts.
fn record_offset(i: u64) -> u64 {
    TREE_LEVEL_HEADER_LEN as u64 + i * TREE_RECORD_LEN as u64
}

/// The tree's level files and the records not yet written to them.
#[derive(Debug)]
pub(crate) struct MerkleTree {
    dir: PathBuf,
    data_dir: PathBuf,
    fs: Arc<dyn StoreFs>,
    writable: bool,
    /// `levels[k]` stores level `k * TREE_LEVEL_STRIDE`.
    levels: Vec<Level>,
    /// Files created since the last sync (their directory entry needs one).
    created: bool,
}

impl MerkleTree {
    /// Opens the level files of `data_dir`'s tree (none yet is an empty
    /// tree). A level file with a bad header is `TreeCorrupt`; a partial
    /// last record is ignored (and cut by a writer when it next writes).
    pub(crate) fn open(
        fs: Arc<dyn StoreFs>,
        data_dir: &Path,
        writable: bool,
    ) -> Result<Self, StoreError> {
        let mut tree = Self::empty(fs, data_dir, writable);
        let exists = tree
            .fs
            .exists(&tree.dir)
            .map_err(|e| StoreError::io("stat tree directory", &tree.dir, e))?;
        if !exists {
            return Ok(tree);
        }
        for k in 0.. {
            let level = k * TREE_LEVEL_STRIDE;
            let path = tree.dir.join(tree_level_file_name(level));
            let present = tree
                .fs
                .exists(&path)
                .map_err(|e| StoreError::io("stat tree level", &path, e))?;
            if !present || level >= 64 {
                break;
            }
            let mode = if writable {
                OpenMode::ReadWrite
            } else {
                OpenMode::Read
            };
            let file = tree
                .fs
                .open(&path, mode)
                .map_err(|e| StoreError::io("open tree level", &path, e))?;
            let len = file
                .len()
                .map_err(|e| StoreError::io("stat tree level", &path, e))?;
            if len < TREE_LEVEL_HEADER_LEN as u64 {
                // A crash while the file was being created: it holds no record.
                break;
            }
            let mut head = vec![0u8; TREE_LEVEL_HEADER_LEN];
            file.read_exact_at(&mut head, 0)
                .map_err(|e| StoreError::io("read tree level", &path, e))?;
            decode_tree_level_header(&head, level).map_err(|e| StoreError::TreeCorrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let records = (len - TREE_LEVEL_HEADER_LEN as u64) / TREE_RECORD_LEN as u64;
            let slot = tree.level_mut(k as usize);
            slot.file = Some(file);
            slot.on_disk = records;
            slot.durable_len = record_offset(records);
        }
        // A level can only be as long as the level below allows.
        for k in 1..tree.levels.len() {
            let cap = tree.levels[k - 1].len() / FAN_OUT;
            if tree.levels[k].len() > cap {
                tree.levels[k].on_disk = cap;
            }
        }
        Ok(tree)
    }

    /// A tree with no leaves and no files opened yet.
    pub(crate) fn empty(fs: Arc<dyn StoreFs>, data_dir: &Path, writable: bool) -> Self {
        Self {
            dir: data_dir.join(TREE_DIR),
            data_dir: data_dir.to_path_buf(),
            fs,
            writable,
            levels: vec![Level::default()],
            created: false,
        }
    }

    /// Removes the level files of `data_dir`'s tree (to rebuild them).
    pub(crate) fn discard(fs: &dyn StoreFs, data_dir: &Path) -> Result<(), StoreError> {
        let dir = data_dir.join(TREE_DIR);
        let names = fs
            .list_dir(&dir)
            .map_err(|e| StoreError::io("list tree directory", &dir, e))?;
        for name in names {
            let path = dir.join(name);
            fs.remove_file(&path)
                .map_err(|e| StoreError::io("remove tree level", &path, e))?;
        }
        fs.sync_dir(&dir)
            .map_err(|e| StoreError::io("sync tree directory", &dir, e))
    }

    fn level_mut(&mut self, k: usize) -> &mut Level {
        while self.levels.len() <= k {
            self.levels.push(Level::default());
        }
        &mut self.levels[k]
    }

    /// Leaves in the tree.
    pub(crate) fn size(&self) -> u64 {
        self.levels[0].len()
    }

    /// Record `i` of stored level `k`.
    fn record(&self, k: usize, i: u64) -> Result<Hash, StoreError> {
        Ok(self.records(k, i, 1)?[0])
    }

    /// `n` consecutive records of stored level `k` from `i`.
    fn records(&self, k: usize, i: u64, n: u64) -> Result<Vec<Hash>, StoreError> {
        let level = &self.levels[k];
        let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let disk_end = (i + n).min(level.on_disk);
        if i < disk_end {
            let count = usize::try_from(disk_end - i).unwrap_or(0);
            let mut buf = vec![0u8; count * TREE_RECORD_LEN];
            let path = || self.dir.join(level_name(k));
            let file = level.file.as_ref().ok_or_else(|| StoreError::TreeCorrupt {
                path: path(),
                reason: "level file missing".into(),
            })?;
            let at = record_offset(i);
            file.read_exact_at(&mut buf, at)
                .map_err(|e| StoreError::io("read tree level", path(), e))?;
            for chunk in buf.chunks_exact(TREE_RECORD_LEN) {
                let mut h = [0u8; 32];
                h.copy_from_slice(chunk);
                out.push(h);
            }
        }
        let mut j = i.max(level.on_disk);
        while j < i + n {
            let idx = usize::try_from(j - level.on_disk).unwrap_or(usize::MAX);
            out.push(*level.mem.get(idx).ok_or_else(|| StoreError::TreeCorrupt {
                path: self.dir.clone(),
                reason: format!("record {j} of stored level {k} is missing"),
            })?);
            j += 1;
        }
        Ok(out)
    }

    /// The leaf hash of leaf `i`.
    pub(crate) fn leaf(&self, i: u64) -> Result<Hash, StoreError> {
        self.record(0, i)
    }

    /// Appends leaves, and the records of higher levels they complete.
    pub(crate) fn push(&mut self, leaves: &[Hash]) -> Result<(), StoreError> {
        self.levels[0].mem.extend_from_slice(leaves);
        self.fill_up()
    }

    /// Computes every record of the higher levels that the level below
    /// them allows and they lack.
    fn fill_up(&mut self) -> Result<(), StoreError> {
        let mut k = 1;
        loop {
            let want = self.levels[k - 1].len() / FAN_OUT;
            if want == 0 {
                return Ok(());
            }
            let have = self.levels.get(k).map_or(0, Level::len);
            for i in have..want {
                let below = &self.levels[k - 1];
                let first = i * FAN_OUT;
                // The usual case: the children are still in memory.
                let parent = match first.checked_sub(below.on_disk) {
                    Some(at) => {
                        let at = usize::try_from(at).unwrap_or(usize::MAX);
                        match below.mem.get(at..at + FAN_OUT as usize) {
                            Some(children) => fold(children, TREE_LEVEL_STRIDE),
                            None => fold(&self.records(k - 1, first, FAN_OUT)?, TREE_LEVEL_STRIDE),
                        }
                    }
                    None => fold(&self.records(k - 1, first, FAN_OUT)?, TREE_LEVEL_STRIDE),
                };
                self.level_mut(k).mem.push(parent);
            }
            k += 1;
        }
    }

    /// Drops every leaf from `leaves` on (and the records they completed).
    pub(crate) fn truncate(&mut self, leaves: u64) -> Result<(), StoreError> {
        self.cut(leaves, 0)
    }

    /// Cuts stored levels `from..` to what the first `leaves` leaves cover.
    fn cut(&mut self, leaves: u64, from: usize) -> Result<(), StoreError> {
        for k in from..self.levels.len() {
            let keep = leaves >> (k as u32 * TREE_LEVEL_STRIDE);
            let level = &mut self.levels[k];
            if keep < level.on_disk {
                level.mem.clear();
                if self.writable {
                    if let Some(file) = &level.file {
                        let path = self.dir.join(level_name(k));
                        file.set_len(record_offset(keep))
                            .map_err(|e| StoreError::io("truncate tree level", path, e))?;
                        level.dirty = true;
                        level.durable_len = level.durable_len.min(record_offset(keep));
                    }
                }
                level.on_disk = keep;
            } else {
                let in_mem = usize::try_from(keep - level.on_disk).unwrap_or(usize::MAX);
                level.mem.truncate(in_mem);
            }
        }
        Ok(())
    }

    /// Drops the records above level 0 not covered by the first `leaves`
    /// leaves (records that may not have reached the disk whole) and
    /// computes them again from level 0.
    pub(crate) fn truncate_upper(&mut self, leaves: u64) -> Result<(), StoreError> {
        self.cut(leaves, 1)?;
        self.fill_up()
    }

    /// Leaves waiting in memory.
    pub(crate) fn unwritten(&self) -> usize {
        self.levels[0].mem.len()
    }

    /// Writes the records held in memory to their files (a writer only).
    pub(crate) fn write_out(&mut self) -> Result<(), StoreError> {
        if !self.writable {
            return Ok(());
        }
        for k in 0..self.levels.len() {
            if self.levels[k].mem.is_empty() {
                continue;
            }
            let path = self.dir.join(level_name(k));
            if self.levels[k].file.is_none() {
                self.create_level(k, &path)?;
            }
            let level = &mut self.levels[k];
            let mut bytes = Vec::with_capacity(level.mem.len() * TREE_RECORD_LEN);
            for h in &level.mem {
                bytes.extend_from_slice(h);
            }
            let at = record_offset(level.on_disk);
            if let Some(file) = &level.file {
                file.write_all_at(&bytes, at)
                    .map_err(|e| StoreError::io("write tree level", &path, e))?;
            }
            level.on_disk += level.mem.len() as u64;
            level.mem.clear();
            level.dirty = true;
        }
        Ok(())
    }

    fn create_level(&mut self, k: usize, path: &Path) -> Result<(), StoreError> {
        let dir_exists = self
            .fs
            .exists(&self.dir)
            .map_err(|e| StoreError::io("stat tree directory", &self.dir, e))?;
        if !dir_exists {
            self.fs
                .create_dir_all(&self.dir)
                .and_then(|()| self.fs.sync_dir(&self.data_dir))
                .map_err(|e| StoreError::io("create tree directory", &self.dir, e))?;
        }
        let level_no = k as u32 * TREE_LEVEL_STRIDE;
        // A file left by a crash before its first record: start it again.
        let exists = self
            .fs
            .exists(path)
            .map_err(|e| StoreError::io("stat tree level", path, e))?;
        if exists {
            self.fs
                .remove_file(path)
                .map_err(|e| StoreError::io("remove tree level", path, e))?;
        }
        let file = self
            .fs
            .open(path, OpenMode::CreateNew)
            .map_err(|e| StoreError::io("create tree level", path, e))?;
        file.write_all_at(&encode_tree_level_header(level_no), 0)
            .map_err(|e| StoreError::io("write tree level", path, e))?;
        self.levels[k].file = Some(file);
        self.levels[k].on_disk = 0;
        self.levels[k].durable_len = 0;
        self.levels[k].rewrite = false;
        self.created = true;
        Ok(())
    }

    /// Creates the level-0 file if there is none (a writer only).
    pub(crate) fn ensure_first_level(&mut self) -> Result<(), StoreError> {
        if !self.writable || self.levels[0].file.is_some() {
            return Ok(());
        }
        let path = self.dir.join(level_name(0));
        self.create_level(0, &path)
    }

    /// Writes out and makes every level file durable (before a head that
    /// covers them is recorded).
    pub(crate) fn sync(&mut self) -> Result<(), StoreError> {
        self.write_out()?;
        if !self.writable {
            return Ok(());
        }
        for k in 0..self.levels.len() {
            if !self.levels[k].dirty {
                continue;
            }
            let level = &mut self.levels[k];
            if let Some(file) = &level.file {
                let path = self.dir.join(level_name(k));
                if level.rewrite {
                    // Dirty the pages a failed fsync lost, so this one writes them.
                    let start = level.durable_len;
                    let end = record_offset(level.on_disk);
                    let mut bytes =
                        vec![0u8; usize::try_from(end.saturating_sub(start)).unwrap_or(0)];
                    file.read_exact_at(&mut bytes, start)
                        .and_then(|()| file.write_all_at(&bytes, start))
                        .map_err(|e| StoreError::io("rewrite tree level", &path, e))?;
                    level.rewrite = false;
                }
                if let Err(e) = file.sync_data() {
                    level.rewrite = true;
                    return Err(StoreError::io("sync tree level", path, e));
                }
                level.durable_len = record_offset(level.on_disk);
            }
            level.dirty = false;
        }
        if self.created {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| StoreError::io("sync tree directory", &self.dir, e))?;
            self.created = false;
        }
        Ok(())
    }

    /// Each level file with the length its written records take: what a
    /// cut copies. Records still in memory are left out (a copy rebuilds
    /// them from the log when it opens); the files only grow past these
    /// lengths while the writer runs.
    pub(crate) fn written_files(&self) -> Vec<(String, Arc<dyn StoreFile>, u64)> {
        self.levels
            .iter()
            .enumerate()
            .filter_map(|(k, level)| {
                let file = level.file.as_ref()?;
                let len = record_offset(level.on_disk);
                Some((level_name(k), file.clone(), len))
            })
            .collect()
    }

    /// The root of the tree of the first `size` leaves.
    pub(crate) fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        proofbat::root_at(self, size)
    }
}

/// Folds `2^height` hashes (at most [`FAN_OUT`]) pairwise into their
/// subtree root, in place on the stack.
fn fold(hashes: &[Hash], height: u32) -> Hash {
    let mut buf = [[0u8; 32]; FAN_OUT as usize];
    let mut len = hashes.len().min(buf.len());
    buf[..len].copy_from_slice(&hashes[..len]);
    for _ in 0..height {
        for j in 0..len / 2 {
            buf[j] = node_hash(&buf[2 * j], &buf[2 * j + 1]);
        }
        len /= 2;
    }
    if len == 0 {
        return proofbat::empty_root();
    }
    buf[0]
}

impl From<ProofError> for StoreError {
    fn from(e: ProofError) -> Self {
        StoreError::TreeCorrupt {
            path: PathBuf::from(TREE_DIR),
            reason: e.to_string(),
        }
    }
}

impl SubtreeSource for MerkleTree {
    type Error = StoreError;

    fn subtree(&self, start: u64, level: u32) -> Result<Hash, StoreError> {
        let unavailable = || StoreError::from(ProofError::SubtreeUnavailable { start, level });
        let k = (level / TREE_LEVEL_STRIDE) as usize;
        let height = level % TREE_LEVEL_STRIDE;
        let stored = k as u32 * TREE_LEVEL_STRIDE;
        if k >= self.levels.len() || start % (1u64 << level.min(63)) != 0 {
            return Err(unavailable());
        }
        let first = start >> stored;
        let count = 1u64 << height;
        if first + count > self.levels[k].len() {
            return Err(unavailable());
        }
        Ok(fold(&self.records(k, first, count)?, height))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::fs::RealFs;
    use proofbat::{leaf_hash, root_of};

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| {
                let mut e = [0u8; 32];
                e[..8].copy_from_slice(&i.to_le_bytes());
                leaf_hash(&e)
            })
            .collect()
    }

    #[test]
    fn roots_and_proofs_match_the_reference_at_every_size_across_writes_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let all = leaves(300);
        let mut tree = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap();
        for (i, leaf) in all.iter().enumerate() {
            tree.push(&[*leaf]).unwrap();
            if i % 37 == 0 {
                tree.write_out().unwrap();
            }
            if i % 101 == 0 {
                tree.sync().unwrap();
                tree = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap();
            }
        }
        tree.sync().unwrap();
        let tree = MerkleTree::open(Arc::new(RealFs), dir.path(), false).unwrap();
        assert_eq!(tree.size(), 300);
        for size in [1u64, 2, 15, 16, 17, 255, 256, 257, 300] {
            assert_eq!(tree.root_at(size).unwrap(), root_of(&all[..size as usize]));
            for index in [0, size / 2, size - 1] {
                let got = proofbat::inclusion_proof(&tree, index, size).unwrap();
                let want = proofbat::inclusion_proof(&all[..], index, size).unwrap();
                assert_eq!(got, want, "size {size} index {index}");
            }
        }
        let got = proofbat::consistency_proof(&tree, 17, 300).unwrap();
        assert_eq!(got, proofbat::consistency_proof(&all[..], 17, 300).unwrap());
    }

    #[test]
    fn truncate_drops_leaves_and_the_records_they_completed() {
        let dir = tempfile::tempdir().unwrap();
        let all = leaves(600);
        let mut tree = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap();
        tree.push(&all).unwrap();
        tree.sync().unwrap();
        tree.truncate(270).unwrap();
        tree.push(&all[270..280]).unwrap();
        tree.sync().unwrap();
        let tree = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap();
        assert_eq!(tree.size(), 280);
        assert_eq!(tree.levels[1].len(), 17);
        assert_eq!(tree.levels[2].len(), 1);
        assert_eq!(tree.root_at(280).unwrap(), root_of(&all[..280]));
        assert!(tree.root_at(281).is_err());
    }

    #[test]
    fn a_level_file_with_a_bad_header_is_tree_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut tree = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap();
        tree.push(&leaves(3)).unwrap();
        tree.sync().unwrap();
        let path = dir.path().join(TREE_DIR).join("level-00");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] = 4;
        std::fs::write(&path, bytes).unwrap();
        let err = MerkleTree::open(Arc::new(RealFs), dir.path(), true).unwrap_err();
        assert_eq!(err.code(), "tree_corrupt", "{err}");
    }
}
