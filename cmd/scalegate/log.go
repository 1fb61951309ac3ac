package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/service"
)

func (a *app) logCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Read and verify the transparency log",
	}
	cmd.AddCommand(a.logKeyCmd(), a.logCheckpointCmd(), a.logEntryCmd(), a.logProofCmd(), a.logConsistencyCmd(), a.logVerifyCmd(), a.logCosignCmd())
	return cmd
}

func parseIndex(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, usageErrorf("%s: expected a non-negative integer, got %q", name, s)
	}
	return n, nil
}

func (a *app) logKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "key",
		Short: "Print the log's verifier key (name+hash+base64)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, s.VerifierKey())
			return nil
		},
	}
}

func (a *app) logCheckpointCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "checkpoint",
		Short: "Print the latest signed checkpoint, byte for byte",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			c, err := s.Checkpoint(cmd.Context())
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(c)
			return err
		},
	}
}

func (a *app) logEntryCmd() *cobra.Command {
	var trusted bool
	cmd := &cobra.Command{
		Use:   "entry N [--trusted]",
		Short: "Print leaf N's bytes exactly as hashed (or, --trusted, the full record)",
		Long: `Print leaf N's bytes exactly as hashed: the public view, in which the
confidential fields of a confidential record are replaced by a salted
commitment. With --trusted, print the record as stored, with the
confidential values and the salt, and check that they open the commitment
in the leaf.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseIndex("N", args[0])
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			if !trusted {
				e, err := s.Entry(cmd.Context(), n)
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(e)
				return err
			}
			data, err := s.TrustedEntry(cmd.Context(), n)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(a.stdout, string(data)); err != nil {
				return err
			}
			if c, err := service.Commitment(data); err == nil {
				fmt.Fprintf(a.stderr, "the confidential fields open the leaf's commitment %s\n", c)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&trusted, "trusted", false, "print the trusted view with confidential values and salt")
	return cmd
}

func (a *app) logCosignCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cosign FILE",
		Short: "Store witness cosignatures from a cosigned checkpoint",
		Long: `Accept a checkpoint cosigned by witnesses (c2sp.org/tlog-cosignature):
the log's signed checkpoint with witness signature lines added. Witnesses
are listed, one verifier key per line, in the file "witnesses" in the data
directory. Verified cosignatures are stored and shown by "log checkpoint".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return usageErrorf("%s: %v", args[0], err)
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			n, err := s.AddCosignatures(cmd.Context(), b)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "stored %d witness cosignatures\n", n)
			return nil
		},
	}
}

func (a *app) logProofCmd() *cobra.Command {
	var size int64
	var output string
	cmd := &cobra.Command{
		Use:   "proof N [--size S]",
		Short: "Print an inclusion proof of leaf N in the tree of size S (default latest)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseIndex("N", args[0])
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			p, err := s.InclusionProof(cmd.Context(), n, size)
			if err != nil {
				return err
			}
			return json.NewEncoder(a.stdout).Encode(p)
		},
	}
	cmd.Flags().Int64Var(&size, "size", 0, "tree size (default: the latest)")
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format (json)")
	return cmd
}

func (a *app) logConsistencyCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "consistency A B",
		Short: "Print a consistency proof between tree sizes A and B",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			old, err := parseIndex("A", args[0])
			if err != nil {
				return err
			}
			nw, err := parseIndex("B", args[1])
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			p, err := s.ConsistencyProof(cmd.Context(), old, nw)
			if err != nil {
				return err
			}
			return json.NewEncoder(a.stdout).Encode(p)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format (json)")
	return cmd
}

func (a *app) logVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify",
		Short: "Recompute the whole log from the stored records and check it",
		Long: `Recompute the whole Merkle tree from the stored records: every leaf must be
its record's canonical leaf, every stored hash must match, and every stored
checkpoint must be signed by the log key over the recomputed root. Exits 1
naming the first bad index on any mismatch.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := s.Verify(cmd.Context())
			var ve *service.VerifyError
			if errors.As(err, &ve) {
				return &exitError{code: exitDeny, err: fmt.Errorf("log verification failed: %w", ve)}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "log verified: %d entries, %d signed checkpoints, root %x\n", rep.Size, rep.Checkpoints, rep.Root[:])
			return nil
		},
	}
}
