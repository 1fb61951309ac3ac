package transparency

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// openWithKey opens a signed checkpoint with a single log verifier key.
func openWithKey(vkey string, signed []byte) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("log verifier key %q: %w", vkey, err)
	}
	c, _, err := OpenCheckpoint(signed, note.VerifierList(v))
	return c, err
}

// VerifyInclusion checks, without access to the log's storage, that entry
// is in the log: the checkpoint must carry a valid signature by the log key
// vkey (named after the checkpoint origin), the proof must be for the
// checkpoint's tree size, and the proof must lead from RecordHash(entry) at
// proof.Index to the checkpoint root. It returns the verified checkpoint.
func VerifyInclusion(vkey string, signedCheckpoint, entry []byte, proof InclusionJSON) (Checkpoint, error) {
	c, err := openWithKey(vkey, signedCheckpoint)
	if err != nil {
		return Checkpoint{}, err
	}
	if proof.Size != c.Size {
		return Checkpoint{}, fmt.Errorf("inclusion proof is for tree size %d but the checkpoint has size %d", proof.Size, c.Size)
	}
	if err := proof.check(); err != nil {
		return Checkpoint{}, err
	}
	if len(entry) > MaxEntrySize {
		return Checkpoint{}, fmt.Errorf("entry is %d bytes, larger than the %d byte limit", len(entry), MaxEntrySize)
	}
	if err := tlog.CheckRecord(proof.Proof(), c.Size, c.Root, proof.Index, tlog.RecordHash(entry)); err != nil {
		return Checkpoint{}, fmt.Errorf("entry is not at index %d of the tree of size %d signed by %s: %w", proof.Index, c.Size, c.Origin, err)
	}
	return c, nil
}

// VerifyConsistency checks, without access to the log's storage, that the
// tree in newSigned is an append-only extension of the tree in oldSigned:
// both checkpoints must carry valid signatures by the log key vkey and have
// the same origin, the proof must be for their sizes, and it must prove the
// old root is a prefix of the new one. Equal sizes require equal roots and
// an empty proof; an old size of 0 is consistent with every tree.
func VerifyConsistency(vkey string, oldSigned, newSigned []byte, proof ConsistencyJSON) error {
	oldC, err := openWithKey(vkey, oldSigned)
	if err != nil {
		return fmt.Errorf("old checkpoint: %w", err)
	}
	newC, err := openWithKey(vkey, newSigned)
	if err != nil {
		return fmt.Errorf("new checkpoint: %w", err)
	}
	if oldC.Origin != newC.Origin {
		return fmt.Errorf("checkpoints are for different logs: %q and %q", oldC.Origin, newC.Origin)
	}
	if proof.Old != oldC.Size || proof.New != newC.Size {
		return fmt.Errorf("consistency proof is for sizes %d to %d but the checkpoints have sizes %d and %d", proof.Old, proof.New, oldC.Size, newC.Size)
	}
	if err := proof.check(); err != nil {
		return err
	}
	switch {
	case oldC.Size == 0:
		return nil
	case oldC.Size == newC.Size:
		if oldC.Root != newC.Root {
			return fmt.Errorf("log %s signed two different roots for tree size %d", oldC.Origin, oldC.Size)
		}
		return nil
	}
	if err := tlog.CheckTree(proof.Proof(), newC.Size, newC.Root, oldC.Size, oldC.Root); err != nil {
		return fmt.Errorf("tree size %d is not an extension of tree size %d of log %s: %w", newC.Size, oldC.Size, oldC.Origin, err)
	}
	return nil
}
