//! The bytes of the marker a snapshot or fork leaves in its destination
//! while it writes (`SNAPSHOT_INCOMPLETE`, see `names`).
//!
//! Only the marker's presence is read: a directory that holds it is refused
//! by every open. Its text is for a person who finds it; no code parses it,
//! so it carries no magic, version or CRC, and damage to it changes nothing.

/// What the marker file holds.
pub(crate) const SNAPSHOT_MARKER_TEXT: &[u8] = b"batpak: a snapshot or fork is being written into this directory, or its writing was interrupted. \
This directory is not a store while this file exists: delete the directory and take the copy again.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_says_what_it_is_in_one_line_of_text() {
        let text = std::str::from_utf8(SNAPSHOT_MARKER_TEXT).unwrap_or_default();
        assert!(text.starts_with("batpak: "));
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
    }
}
