//! Writes the corpus seeds, made with the store's own encoders, to
//! `fuzz/corpus/<target>/seed-<n>`: `cargo run --example seeds` in `fuzz/`.

use std::collections::BTreeMap;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (target, bytes) in batpak::__fuzz::seeds() {
        let n = counts.entry(target).or_default();
        let dir = root.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("seed-{n}")), bytes)?;
        *n += 1;
    }
    for (target, n) in counts {
        println!("{target}: {n} seeds");
    }
    Ok(())
}
