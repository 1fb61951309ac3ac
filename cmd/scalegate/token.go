package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/service"
)

func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens for scalegate serve",
		Long: `Manage the bearer tokens clients send to the HTTP API
("Authorization: Bearer <token>"). Roles: lab (records evidence, asks the
gate), auditor (sees confidential values, records signed attestations),
admin (everything: publishes policies, manages tokens). Only a token's
SHA-256 is stored; every write made with it is attributed to its name.`,
	}
	cmd.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return cmd
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var role, name string
	cmd := &cobra.Command{
		Use:   "create --role lab|auditor|admin --name NAME",
		Short: "Create a token; it is printed once, alone on the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			secret, t, err := s.CreateToken(cmd.Context(), name, role)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "created token %q with role %s.\nIt is shown only this once (only its SHA-256 is stored); writes made with it are recorded as by %q.\n%s\n", t.Name, t.Role, t.Name, secret)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "role: "+strings.Join(service.Roles, ", "))
	cmd.Flags().StringVar(&name, "name", "", "the token's name, recorded as the author of its writes")
	cmd.MarkFlagRequired("role")
	cmd.MarkFlagRequired("name")
	return cmd
}

func (a *app) tokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List tokens (names, roles, dates; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			ts, err := s.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tREVOKED")
			for _, t := range ts {
				revoked := "-"
				if t.Revoked != nil {
					revoked = t.Revoked.Format("2006-01-02T15:04:05Z")
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Role, t.Created.Format("2006-01-02T15:04:05Z"), revoked)
			}
			return tw.Flush()
		},
	}
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "revoke --name NAME",
		Short: "Revoke a token; it stops working at once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			t, err := s.RevokeToken(cmd.Context(), name)
			if service.IsNotFound(err) {
				return usageErrorf("no token named %q", name)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "revoked token %q (role %s)\n", t.Name, t.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the token's name")
	cmd.MarkFlagRequired("name")
	return cmd
}
