package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/service"
)

// Exit codes.
const (
	exitOK       = 0 // allow, or success
	exitDeny     = 1 // the gate denied, or a verification failed
	exitBadInput = 2 // bad input or usage
	exitInternal = 3 // anything else (I/O, a corrupt store)
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitBadInput, err: fmt.Errorf(format, args...)}
}

// denied is returned by commands whose answer is "no" (exit 1) after they
// printed their output.
var errDenied = errors.New("denied")

type app struct {
	dataDir string
	stdout  io.Writer
	stderr  io.Writer
	svc     *service.Service
}

// open opens the service on the data directory.
func (a *app) open(ctx context.Context) (*service.Service, error) {
	if a.svc != nil {
		return a.svc, nil
	}
	dir := a.dataDir
	if dir == "" {
		dir = os.Getenv("SCALEGATE_DATA")
	}
	if dir == "" {
		dir = "scalegate-data"
	}
	s, err := service.Open(ctx, dir)
	if err != nil {
		return nil, &exitError{code: exitInternal, err: err}
	}
	a.svc = s
	return s, nil
}

// Run runs the command line and returns the exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.svc != nil {
		a.svc.Close()
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errDenied) {
		return exitDeny
	}
	fmt.Fprintf(stderr, "error: %s\n", oneLine(err.Error()))
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, service.ErrBadInput):
		return exitBadInput
	case isUsage(err):
		return exitBadInput
	}
	return exitInternal
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// isUsage recognises cobra's own usage errors.
func isUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "required flag", "invalid argument", "flag needs an argument", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "scalegate",
		Short: "Evaluation-gated scaling: policies as code, a gate, and a transparency log",
		Long: `scalegate turns a frontier AI scaling policy into code and answers, before a
model is trained further or deployed, allow or deny and exactly why. Every
policy version, piece of evidence and decision is a leaf of a tamper-evident
transparency log that outsiders can verify offline.

Exit codes: 0 allow or success; 1 deny (or a failed verification); 2 bad
input or usage; 3 internal error.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&a.dataDir, "data", "", "data directory (default $SCALEGATE_DATA or ./scalegate-data)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitBadInput, err: err}
	})
	root.AddCommand(a.policyCmd(), a.importCmd(), a.gateCmd(), a.logCmd(), a.verifyCmd(), a.attestCmd(), a.forecastCmd(), a.correlateCmd(), a.demoCmd(), a.showCmd(), a.serveCmd(), a.tokenCmd(), a.evalCmd(), a.auditCmd())
	for _, c := range root.Commands() {
		groupUsage(c)
	}
	return root
}

// groupUsage makes command groups (gate, log, policy…) answer a missing or
// unknown subcommand with a usage error (exit 2) instead of help and exit 0,
// so that a pipeline's typo never looks like success.
func groupUsage(c *cobra.Command) {
	if !c.HasSubCommands() {
		return
	}
	if c.Run == nil && c.RunE == nil {
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(cmd *cobra.Command, args []string) error {
			var names []string
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() {
					names = append(names, sub.Name())
				}
			}
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q (commands: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", "))
			}
			return usageErrorf("%q needs a command: %s", cmd.CommandPath(), strings.Join(names, ", "))
		}
	}
	for _, sub := range c.Commands() {
		groupUsage(sub)
	}
}

// parseTime parses --at: RFC 3339, or a date (midnight UTC).
func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageErrorf("--%s: expected an RFC 3339 time such as 2026-03-01T00:00:00Z, got %q", flag, s)
}
