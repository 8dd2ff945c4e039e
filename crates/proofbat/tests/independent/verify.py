#!/usr/bin/env python3
"""An independent verifier of proofbat's evidence, written from the bytes
described in docs/FORMAT.md ("Verifiable log: tree, proofs, checkpoint and
note"), RFC 9162 section 2.1 and the C2SP signed-note and tlog-checkpoint
specifications. It shares no code with the Rust crate.

Usage:
  verify.py (--vkey VKEY | --public-key HEX) --note NOTE
            [--inclusion FILE] [--consistency FILE]

  --vkey         the log's verifier key, <name>+<hex key id>+<base64(0x01 || key)>
  --public-key   the 32-byte Ed25519 public key as 64 hex digits; the key name
                 is then the note's first line (the checkpoint's origin)
  --note         a file holding the signed checkpoint note
  --inclusion    JSON {"event_hash": hex, "index": n, "size": n, "proof": [hex]}:
                 the event is leaf `index` of the checkpoint's tree (size must
                 equal the checkpoint's); or the form `batpak prove --json`
                 prints, {"leaf_index": n, "tree_size": n, "leaf_hash": hex,
                 "root_hash": hex, "audit_path": [hex]}, whose root_hash must
                 be the checkpoint's root and whose leaf_hash, when an
                 "event_hash" is added, must be that event's leaf hash
  --consistency  JSON {"old_size": n, "old_root": hex, "new_size": n, "proof": [hex]}:
                 the checkpoint's tree (new_size must equal its size) extends
                 the tree of old_size leaves with root old_root; a "new_root"
                 (as `batpak prove --consistency --json` prints) must be the
                 checkpoint's root

Exit status: 0 verified, 1 verification failed (reason on stderr),
2 usage or unreadable input.

Needs Python 3 and the `cryptography` package (Ed25519).
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014"
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100


class Failed(Exception):
    """The evidence does not verify."""


def sha256(data):
    return hashlib.sha256(data).digest()


def leaf_hash(event_hash):
    return sha256(b"\x00" + event_hash)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def b64decode_strict(text):
    """Standard base64 with padding, canonical: re-encoding gives the text."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Failed("not base64: %r" % text)
    if base64.b64encode(raw).decode("ascii") != text:
        raise Failed("non-canonical base64: %r" % text)
    return raw


def valid_key_name(name):
    return name != "" and not any(c.isspace() or c == "+" or ord(c) < 0x20 for c in name)


def key_id(name, public_key):
    return sha256(name.encode("utf-8") + b"\x0a\x01" + public_key)[:4]


def parse_vkey(vkey):
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise Failed("verifier key is not name+id+key")
    name, id_hex, encoded = parts
    if not valid_key_name(name):
        raise Failed("bad key name in verifier key")
    if len(id_hex) != 8 or any(c not in "0123456789abcdef" for c in id_hex):
        raise Failed("verifier key id is not 8 lowercase hex digits")
    typed = b64decode_strict(encoded)
    if len(typed) != 33 or typed[0] != 0x01:
        raise Failed("verifier key is not an Ed25519 key")
    public_key = typed[1:]
    if key_id(name, public_key) != bytes.fromhex(id_hex):
        raise Failed("verifier key id does not match")
    return name, public_key


def parse_public_key_hex(text):
    if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise Failed("public key is not 64 hex digits")
    return bytes.fromhex(text)


def open_note(note, name, public_key):
    """Returns the signed text of `note` if it carries a valid signature by
    the key; raises Failed otherwise."""
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise Failed("note too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Failed("control character in note")
    split = note.rfind("\n\n")
    if split < 0:
        raise Failed("no signature block")
    text, block = note[: split + 1], note[split + 2 :]
    if block == "" or not block.endswith("\n"):
        raise Failed("no signature lines")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise Failed("too many signatures")
    wanted = key_id(name, public_key)
    try:
        verifier = Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        raise Failed("not an Ed25519 public key")
    verified = False
    for line in lines:
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise Failed("signature line without the em dash: %r" % line)
        signer, sep, encoded = line[len(prefix) :].partition(" ")
        if sep != " " or not valid_key_name(signer):
            raise Failed("malformed signature line: %r" % line)
        blob = b64decode_strict(encoded)
        if len(blob) < 5:
            raise Failed("signature too short")
        if signer != name or blob[:4] != wanted:
            continue  # someone else's key: ignored
        if len(blob) != 4 + 64:
            raise Failed("signature by the key has the wrong length")
        try:
            verifier.verify(blob[4:], text.encode("utf-8"))
        except InvalidSignature:
            raise Failed("signature by the key does not verify")
        verified = True
    if not verified:
        raise Failed("no valid signature by the key")
    return text


def parse_checkpoint(text):
    if not text.endswith("\n"):
        raise Failed("checkpoint does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise Failed("checkpoint has fewer than three lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if origin == "":
        raise Failed("empty origin")
    if not (size_text == "0" or (size_text != "" and size_text[0] in "123456789"
                                 and all(c in "0123456789" for c in size_text))):
        raise Failed("size is not a canonical decimal: %r" % size_text)
    size = int(size_text)
    if size >= 1 << 64:
        raise Failed("size does not fit in 64 bits")
    root = b64decode_strict(root_text)
    if len(root) != 32:
        raise Failed("root is not 32 bytes")
    if any(line == "" for line in lines[3:]):
        raise Failed("empty extension line")
    return origin, size, root


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise Failed("index out of range")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise Failed("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not (fn & 1) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failed("inclusion proof too short")
    if r != root:
        raise Failed("inclusion proof does not lead to the root")


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 section 2.1.4.2, with the trivial cases of equal sizes and
    of the empty old tree."""
    if first > second:
        raise Failed("old size larger than new size")
    if first == second:
        if proof or first_hash != second_hash:
            raise Failed("equal sizes need an empty proof and equal roots")
        return
    if first == 0:
        if proof or first_hash != sha256(b""):
            raise Failed("from the empty tree: empty proof, empty root")
        return
    if not proof:
        raise Failed("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failed("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not (fn & 1) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != first_hash:
        raise Failed("consistency proof does not lead to the old root")
    if sr != second_hash or sn != 0:
        raise Failed("consistency proof does not lead to the new root")


def hex32(value, what):
    if not isinstance(value, str) or len(value) != 64:
        raise Failed("%s is not 64 hex digits" % what)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise Failed("%s is not hex" % what)


def count(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >= 1 << 64:
        raise Failed("%s is not a 64-bit unsigned integer" % what)
    return value


def proof_hashes(value):
    if not isinstance(value, list) or len(value) > 65:
        raise Failed("proof is not a list of at most 65 hashes")
    return [hex32(h, "proof hash") for h in value]


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    key = parser.add_mutually_exclusive_group(required=True)
    key.add_argument("--vkey")
    key.add_argument("--public-key")
    parser.add_argument("--note", required=True)
    parser.add_argument("--inclusion")
    parser.add_argument("--consistency")
    args = parser.parse_args(argv)
    try:
        with open(args.note, "rb") as f:
            note = f.read().decode("utf-8")
        inclusion = consistency = None
        if args.inclusion:
            with open(args.inclusion) as f:
                inclusion = json.load(f)
        if args.consistency:
            with open(args.consistency) as f:
                consistency = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        print("cannot read input: %s" % e, file=sys.stderr)
        return 2

    try:
        if args.vkey is not None:
            name, public_key = parse_vkey(args.vkey)
        else:
            public_key = parse_public_key_hex(args.public_key)
            name = note.split("\n", 1)[0]
            if not valid_key_name(name):
                raise Failed("the note's first line is not a valid key name")
        origin, size, root = parse_checkpoint(open_note(note, name, public_key))
        if origin != name:
            raise Failed("checkpoint origin is not the key name")
        checked = ["checkpoint %s at size %d" % (origin, size)]
        if inclusion is not None:
            if "leaf_index" in inclusion:  # batpak prove --json
                proof_size = count(inclusion.get("tree_size"), "tree_size")
                index = count(inclusion.get("leaf_index"), "leaf_index")
                leaf = hex32(inclusion.get("leaf_hash"), "leaf_hash")
                if "event_hash" in inclusion and \
                        leaf_hash(hex32(inclusion["event_hash"], "event_hash")) != leaf:
                    raise Failed("leaf_hash is not the leaf hash of event_hash")
                if hex32(inclusion.get("root_hash"), "root_hash") != root:
                    raise Failed("root_hash is not the checkpoint's root")
                path = proof_hashes(inclusion.get("audit_path"))
            else:
                proof_size = count(inclusion.get("size"), "size")
                index = count(inclusion.get("index"), "index")
                leaf = leaf_hash(hex32(inclusion.get("event_hash"), "event_hash"))
                path = proof_hashes(inclusion.get("proof"))
            if proof_size != size:
                raise Failed("inclusion proof is for another tree size")
            verify_inclusion(leaf, index, size, path, root)
            checked.append("inclusion of leaf %d" % index)
        if consistency is not None:
            if count(consistency.get("new_size"), "new_size") != size:
                raise Failed("consistency proof is for another tree size")
            old_size = count(consistency.get("old_size"), "old_size")
            if "new_root" in consistency and hex32(consistency["new_root"], "new_root") != root:
                raise Failed("new_root is not the checkpoint's root")
            old_root = hex32(consistency.get("old_root"), "old_root")
            verify_consistency(old_size, size, old_root, root,
                               proof_hashes(consistency.get("proof")))
            checked.append("consistency from size %d" % old_size)
    except Failed as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    print("OK: " + ", ".join(checked))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
