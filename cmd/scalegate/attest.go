package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/service"
)

func (a *app) attestCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Create attester keys and sign evidence records",
		Long: `An attester named in a policy with a key ({name, key} under
governance.attesters) counts only for records carrying its signature: an
in-toto Statement over the record, in a DSSE envelope signed with its key.
"attest sign" produces such an envelope; "import" accepts it.`,
	}
	cmd.AddCommand(a.attestKeygenCmd(), a.attestSignCmd())
	return cmd
}

func (a *app) attestKeygenCmd() *cobra.Command {
	var name, out string
	cmd := &cobra.Command{
		Use:   "keygen --name NAME --out FILE",
		Short: "Create an attester key: the private key goes to FILE (mode 0600), the verifier key to stdout",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			skey, vkey, err := attest.GenerateKey(name)
			if err != nil {
				return usageErrorf("--name: %v", err)
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return usageErrorf("--out: %v", err)
			}
			if _, err := fmt.Fprintln(f, skey); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, vkey)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "attester name, as in the policy's governance.attesters")
	cmd.Flags().StringVar(&out, "out", "", "file for the private key (must not exist)")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("out")
	return cmd
}

func (a *app) attestSignCmd() *cobra.Command {
	var keyFile, at string
	cmd := &cobra.Command{
		Use:   "sign --key FILE RECORD.yaml",
		Short: "Sign one safeguard status, determination or safety case; print the DSSE envelope",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			skey, err := os.ReadFile(keyFile)
			if err != nil {
				return usageErrorf("--key: %v", err)
			}
			f, err := evidence.Load(args[0], t)
			if err != nil {
				return &exitError{code: exitBadInput, err: err}
			}
			env, err := service.SignRecord(string(trimNL(skey)), f)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, string(env))
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "attester private key file (from attest keygen)")
	cmd.Flags().StringVar(&at, "at", "", "time for a record without `at` (RFC 3339); signed records need a time")
	cmd.MarkFlagRequired("key")
	return cmd
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
