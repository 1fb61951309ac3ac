// Package transparency owns scalegate's tamper-evident log primitives: the
// Merkle tree arithmetic, checkpoints and their signatures, witness
// cosignatures, inclusion and consistency proofs with their JSON wire form,
// offline verification, log key files, salted commitments and the canonical
// JSON encoding used for log entries. It is storage-agnostic: a store
// persists entries and stored hashes (inside its own transaction) and calls
// in here to compute what to persist and to build proofs.
//
// # Entries and the tree
//
// An entry (leaf) is an opaque byte string of at most [MaxEntrySize] (65535)
// bytes, the tlog-tiles limit; scalegate writes the [CanonicalJSON] encoding
// of a record. The tree is the RFC 6962 / RFC 9162 Merkle tree computed with
// golang.org/x/mod/sumdb/tlog:
//
//	leaf hash  = SHA-256(0x00 || entry)                 (tlog.RecordHash)
//	node hash  = SHA-256(0x01 || left || right)         (tlog.NodeHash)
//	empty tree = SHA-256("")
//
// Every complete subtree's hash is stored exactly once, at the dense "stored
// hash index" tlog.StoredHashIndex(level, n). Appending entry n produces the
// stored hashes at indexes tlog.StoredHashIndex(0, n) and the following
// consecutive indexes (one per subtree completed by that entry), exactly as
// tlog.StoredHashes does. A tree of size N has tlog.StoredHashCount(N) stored
// hashes, so the stored hashes of a log form a gap-free sequence 0, 1, 2, ...
//
// [AppendHashes], [Overlay] and [Builder] compute these hashes from only the
// tree's right edge (one stored hash per set bit of the size), so appending a
// batch reads at most 63 hashes from storage and recomputing a whole log uses
// O(log n) memory.
//
// # Checkpoints
//
// A checkpoint is a C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint)
// body of exactly three lines:
//
//	<origin>\n
//	<tree size, decimal, no leading zeros (0 is "0")>\n
//	<root hash, standard padded base64 of 32 bytes>\n
//
// [ParseCheckpoint] rejects extension lines: scalegate never writes them, C2SP
// does not recommend them, and rejecting them keeps exactly one body per tree
// head. The origin must be a valid signed-note key name (non-empty UTF-8
// without spaces or '+'); [DefaultOrigin] gives "scalegate.dev/log/<logID>".
// Checkpoints are signed as C2SP signed notes (https://c2sp.org/signed-note)
// with an Ed25519 key (algorithm byte 0x01) whose key name equals the origin;
// [OpenCheckpoint] requires such a signature.
//
// # Witness cosignatures
//
// Witnesses cosign per https://c2sp.org/tlog-cosignature. A cosignature is a
// signed-note signature line whose signature bytes are
//
//	8-byte big-endian Unix timestamp T || Ed25519 signature (64 bytes)
//
// over the message "cosignature/v1\ntime <T decimal>\n" followed by the
// checkpoint body. Witness keys use the signed-note key text with algorithm
// byte 0x04:
//
//	verifier key: <name>+<key ID, 8 lowercase hex>+base64(0x04 || 32-byte Ed25519 public key)
//	signer key:   PRIVATE+KEY+<name>+<key ID>+base64(0x04 || 32-byte Ed25519 seed)
//	key ID:       first 4 bytes of SHA-256(<name> || 0x0A || 0x04 || public key)
//
// See [GenerateWitnessKey], [CosignatureVerifier], [NewWitness],
// [AddCosignatures] and [OpenCosigned].
//
// # Proofs
//
// Inclusion and consistency proofs are RFC 6962 audit paths as produced by
// tlog.ProveRecord and tlog.ProveTree. Their JSON wire forms are, exactly and
// with keys in this order when written:
//
//	{"index":N,"size":S,"hashes":["<base64>",...]}   inclusion of entry N in the tree of size S
//	{"old":A,"new":B,"hashes":["<base64>",...]}      consistency of tree size A with tree size B
//
// Parsing is strict: no unknown, missing or duplicate keys, no trailing data,
// integers without sign, fraction or exponent, hashes as padded standard
// base64 of exactly 32 bytes, and exactly as many hashes as an RFC 6962 proof
// for those sizes has. [VerifyInclusion] and [VerifyConsistency] check such
// proofs against signed checkpoints without any access to the log's storage.
//
// # Commitments
//
// A confidential field is logged as a salted commitment:
//
//	commitment = "sha256:" + lowercase hex(SHA-256(salt || canonical JSON of the value))
//
// where salt is 32 bytes from crypto/rand ([NewSalt]) kept outside the log.
// Revealing salt and value lets anyone recompute the commitment
// ([CheckCommitment]); without the salt, low-entropy values cannot be guessed.
//
// # Canonical JSON
//
// [CanonicalJSON] writes a value as JSON with object keys sorted by the
// byte-wise order of their UTF-8 encoding, no insignificant white space, no
// HTML escaping, strings escaped only where JSON requires it (", \ and
// control characters, using \b \f \n \r \t or \u00xx) and otherwise
// written as raw UTF-8, duplicate object keys rejected, and numbers
// normalised as follows. A number written without fraction or exponent
// keeps its exact digits ("-0" becomes "0"), so int64 and uint64 values are
// exact. Any other number is parsed as an IEEE 754 float64 and written as
// RFC 8785 (ECMAScript) does, which is also what encoding/json writes for a
// float64: the shortest digits that parse back to the same float64, in
// plain notation when 1e-6 <= |x| < 1e21 (so integral values print as
// integers: 3.0 is "3", 1e20 is "100000000000000000000") and otherwise in
// exponent notation with a signed exponent without leading zeros ("1e+21",
// "1.5e-7"); zero is "0". Non-finite numbers cannot be encoded. A float64
// therefore round-trips exactly, and CanonicalJSON is idempotent.
package transparency
