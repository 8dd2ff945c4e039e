// An approval is made only by a pipeline that evaluated (or audibly bypassed)
// its gates; other code cannot build one.
use batpak::{Approved, EventKind, GateAttestation, Proposal};

fn main() {
    let proposal = Proposal::new(EventKind::custom(0xE, 1), &1u8).unwrap();
    let _forged = Approved {
        proposal,
        attestation: GateAttestation::passed(["trust me"]),
    };
}
