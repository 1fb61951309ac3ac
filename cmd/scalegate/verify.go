package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"scalegate.dev/scalegate/internal/transparency"
)

func (a *app) verifyCmd() *cobra.Command {
	var key, checkpoint, entry, proof, oldCheckpoint, consistency string
	cmd := &cobra.Command{
		Use:   "verify --key KEY --checkpoint FILE [--entry FILE --proof FILE] [--old-checkpoint FILE --consistency FILE]",
		Short: "Verify a checkpoint and proofs offline, with no data directory",
		Long: `Verify, with nothing but the log's public key, that a checkpoint is signed by
the log, that an entry is in the tree the checkpoint commits to (inclusion
proof), and that an older checkpoint's tree is a prefix of the newer one
(consistency proof). KEY is the verifier key text (name+hash+base64) or a
file containing it. Exits 0 when everything given verifies, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// KEY is a file if one exists by that name (a path may contain
			// "+"), else the key text itself.
			vkey := key
			if b, err := os.ReadFile(key); err == nil {
				vkey = strings.TrimSpace(string(b))
			} else if !strings.Contains(key, "+") {
				return usageErrorf("--key: %v", err)
			}
			// A malformed key is bad input (exit 2), not a failed verification.
			if _, err := note.NewVerifier(vkey); err != nil {
				return usageErrorf("--key: not a verifier key: %v", err)
			}
			read := func(flag, path string) ([]byte, error) {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, usageErrorf("--%s: %v", flag, err)
				}
				return b, nil
			}
			ck, err := read("checkpoint", checkpoint)
			if err != nil {
				return err
			}
			if (entry == "") != (proof == "") {
				return usageErrorf("--entry and --proof go together")
			}
			if (oldCheckpoint == "") != (consistency == "") {
				return usageErrorf("--old-checkpoint and --consistency go together")
			}
			fail := func(err error) error {
				return &exitError{code: exitDeny, err: fmt.Errorf("verification failed: %w", err)}
			}
			c, err := openCheckpoint(vkey, ck)
			if err != nil {
				return fail(err)
			}
			fmt.Fprintf(a.stdout, "checkpoint: %s, size %d, signed by the log key\n", c.Origin, c.Size)
			if entry != "" {
				e, err := read("entry", entry)
				if err != nil {
					return err
				}
				pb, err := read("proof", proof)
				if err != nil {
					return err
				}
				p, err := transparency.ParseInclusionJSON(pb)
				if err != nil {
					return usageErrorf("--proof: %v", err)
				}
				if _, err := transparency.VerifyInclusion(vkey, ck, e, p); err != nil {
					return fail(err)
				}
				fmt.Fprintf(a.stdout, "entry %d is included in the tree of size %d\n", p.Index, p.Size)
			}
			if oldCheckpoint != "" {
				oc, err := read("old-checkpoint", oldCheckpoint)
				if err != nil {
					return err
				}
				pb, err := read("consistency", consistency)
				if err != nil {
					return err
				}
				p, err := transparency.ParseConsistencyJSON(pb)
				if err != nil {
					return usageErrorf("--consistency: %v", err)
				}
				if err := transparency.VerifyConsistency(vkey, oc, ck, p); err != nil {
					return fail(err)
				}
				fmt.Fprintf(a.stdout, "the tree of size %d is a prefix of the tree of size %d\n", p.Old, p.New)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "log verifier key (name+hash+base64) or a file holding it")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "signed checkpoint file")
	cmd.Flags().StringVar(&entry, "entry", "", "log entry file (bytes as hashed)")
	cmd.Flags().StringVar(&proof, "proof", "", "inclusion proof JSON file")
	cmd.Flags().StringVar(&oldCheckpoint, "old-checkpoint", "", "older signed checkpoint file")
	cmd.Flags().StringVar(&consistency, "consistency", "", "consistency proof JSON file")
	cmd.MarkFlagRequired("key")
	cmd.MarkFlagRequired("checkpoint")
	return cmd
}

// openCheckpoint checks a signed checkpoint against the log's verifier key.
func openCheckpoint(vkey string, signed []byte) (transparency.Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return transparency.Checkpoint{}, usageErrorf("--key: not a verifier key: %v", err)
	}
	c, _, err := transparency.OpenCheckpoint(signed, note.VerifierList(v))
	return c, err
}
