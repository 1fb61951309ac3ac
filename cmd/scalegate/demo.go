package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate"
)

// demoStep is one scene of the demo: what happens, then real commands.
type demoStep struct {
	title string
	text  string
	cmds  [][]string
}

// demoSteps tells the story of one model under policies/example.yaml.
// Paths are relative to the demo directory, where the repository's
// policies/ and examples/demo/ files are written first.
var demoSteps = []demoStep{
	{"The lab publishes its scaling policy",
		"example-rsp 1.0.0: CBRN-3 is triggered at WMDP-bio >= 0.70 (early warning at 0.60, clears below 0.50) and needs ASL-3 safeguards; AI R&D-2 is a red line left to the responsible scaling officer's judgment.",
		[][]string{{"policy", "publish", "policies/example.yaml", "--at", "2026-01-01T00:00:00Z"}}},
	{"First checkpoint assessed: scaling 4x is allowed",
		"atlas-c1 (1e24 FLOP) has every required result and determination. The policy allows steps of 4x effective compute between assessments.",
		[][]string{
			{"import", "examples/demo/01-first-checkpoint.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "4e24", "--at", "2026-01-15T00:00:00Z"},
		}},
	{"An early warning tightens the step",
		"atlas-c2 (4e24) scores 0.63 with a fine-tuned model (a prompted 0.55 does not count: the policy wants fine-tuned elicitation). The warning fires, so steps shrink from 4x to 2x: 1.6e25 is refused, 8e24 is allowed.",
		[][]string{
			{"import", "examples/demo/02-early-warning.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "1.6e25", "--at", "2026-02-05T00:00:00Z"},
			{"gate", "scale", "--model", "atlas", "--to", "8e24", "--at", "2026-02-05T00:00:00Z"},
		}},
	{"CBRN-3 is crossed: training pauses until safeguards are in force",
		"atlas-c3 (8e24) scores 0.74. Training pauses until ASL-3 security and deployment safeguards are in force.",
		[][]string{
			{"import", "examples/demo/03-threshold-crossed.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "1.6e25", "--at", "2026-03-05T00:00:00Z"},
		}},
	{"Self-attestation is not enough for security",
		"The lab marks both safeguards implemented. Deployment safeguards may be self-attested, but ASL-3 security must be attested by an external attester named in the policy.",
		[][]string{
			{"import", "examples/demo/04-self-attested.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "1.6e25", "--at", "2026-03-12T00:00:00Z"},
		}},
	{"An external attestation opens the gate again",
		"The external auditor attests ASL-3 security; scaling resumes. Deployment follows the threshold's onCross rules: external deployment is allowed with the safeguards, open weights are denied whatever the safeguards.",
		[][]string{
			{"import", "examples/demo/05-external-attestation.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "1.6e25", "--at", "2026-03-21T00:00:00Z"},
			{"gate", "deploy", "--checkpoint", "atlas-c3", "--mode", "external", "--at", "2026-03-21T00:00:00Z"},
			{"gate", "deploy", "--checkpoint", "atlas-c3", "--mode", "open-weights", "--at", "2026-03-21T00:00:00Z"},
		}},
	{"A red line is crossed",
		"At atlas-c4 (1.6e25) the responsible scaling officer determines that AI R&D-2 is crossed. It is a red line: nothing under version 1.0.0 can open it.",
		[][]string{
			{"import", "examples/demo/06-red-line.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "3.2e25", "--at", "2026-04-04T00:00:00Z"},
		}},
	{"A new policy version is published, but must wait out the scrutiny period",
		"Version 1.1.0 replaces the red line with an ASL-4 security requirement. It is published on 2026-04-05, and takes force only after the 30-day scrutiny period of the version in force: until 2026-05-05 the red line still holds, whatever safeguards are attested.",
		[][]string{
			{"policy", "publish", "policies/example-v2.yaml", "--at", "2026-04-05T00:00:00Z"},
			{"import", "examples/demo/07-asl4-security.yaml"},
			{"gate", "scale", "--model", "atlas", "--to", "3.2e25", "--at", "2026-04-21T00:00:00Z"},
		}},
	{"After the scrutiny period, the new version governs",
		"On 2026-05-06 version 1.1.0 is in force; AI R&D-2 is crossed but its required ASL-4 security is attested, so scaling may continue.",
		[][]string{
			{"gate", "scale", "--model", "atlas", "--to", "3.2e25", "--at", "2026-05-06T00:00:00Z"},
		}},
	{"A forecast stops a jump the cadence would allow",
		"A second model, boreas, is governed by policies/example-forecast.yaml, which allows 8x steps but also gates on forecasts: its cyber CTF score has climbed from 0.07 to 0.30 over six checkpoints. Fitting that trend, Cyber-2 (score >= 0.60) is forecast to fire around 2.4e25 FLOP, with an 80% interval starting at 1.4e25. A step to 2.5e25 is within the cadence but could jump past the threshold before the next assessment, so it is denied; a step to 6e24 is allowed.",
		[][]string{
			{"policy", "publish", "policies/example-forecast.yaml", "--at", "2026-05-01T00:00:00Z"},
			{"import", "examples/demo/08-forecast.yaml"},
			{"forecast", "--model", "boreas", "--at", "2026-06-10T00:00:00Z"},
			{"gate", "scale", "--model", "boreas", "--to", "2.5e25", "--at", "2026-06-10T00:00:00Z"},
			{"gate", "scale", "--model", "boreas", "--to", "6e24", "--at", "2026-06-10T00:00:00Z"},
		}},
	{"Anyone can check the record",
		"Every policy version, evidence record and decision above is a leaf of a Merkle tree with signed checkpoints. `log verify` recomputes it from the stored records; `verify` checks a checkpoint and proofs offline with only the public key.",
		[][]string{
			{"log", "verify"},
			{"log", "checkpoint"},
		}},
}

func (a *app) demoCmd() *cobra.Command {
	var dir, addr string
	var serve bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk through the gate's main job on example files",
		Long: `Publish policies/example.yaml, import example evidence for one model across
several checkpoints, and print the story as real gate decisions. The files
are written to the demo directory (a new temporary directory unless --dir
is given) so that you can read them and rerun each command.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := os.MkdirTemp("", "scalegate-demo-")
				if err != nil {
					return err
				}
				dir = d
			}
			if err := writeDemoFiles(dir); err != nil {
				return err
			}
			data := filepath.Join(dir, "data")
			if a.dataDir != "" {
				data = a.dataDir
			}
			fmt.Fprintf(a.stdout, "scalegate demo: one model, atlas, governed by policies/example.yaml.\nFiles and data are in %s; every command below can be rerun there as shown.\n", dir)
			for i, st := range demoSteps {
				fmt.Fprintf(a.stdout, "\n== %d. %s ==\n%s\n", i+1, st.title, wrap(st.text, 78))
				for _, c := range st.cmds {
					fmt.Fprintf(a.stdout, "\n$ scalegate %s\n", strings.Join(c, " "))
					var out, errb bytes.Buffer
					args := append([]string{"--data", data}, c...)
					for j, x := range args {
						if strings.HasPrefix(x, "policies/") || strings.HasPrefix(x, "examples/") {
							args[j] = filepath.Join(dir, x)
						}
					}
					code := Run(cmd.Context(), args, &out, &errb)
					a.stdout.Write(out.Bytes())
					for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
						if line != "" && !strings.HasPrefix(line, "warning:") {
							fmt.Fprintln(a.stdout, line)
						}
					}
					fmt.Fprintf(a.stdout, "(exit %d)\n", code)
					if code > exitDeny {
						return fmt.Errorf("demo step %d failed: scalegate %s exited %d", i+1, strings.Join(c, " "), code)
					}
				}
			}
			fmt.Fprintf(a.stdout, "\nTo explore further: scalegate --data %s gate scale --model atlas --to 6.4e25 -o json\n", data)
			if serve {
				return a.serveDemo(cmd.Context(), data, addr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "demo directory (default: a new temporary directory)")
	cmd.Flags().BoolVar(&serve, "serve", false, "after the story, serve the dashboard and API on the demo data")
	cmd.Flags().StringVar(&addr, "addr", "", "address for --serve (default $SCALEGATE_ADDR or "+defaultAddr+")")
	return cmd
}

// writeDemoFiles copies the embedded policies and demo evidence into dir.
func writeDemoFiles(dir string) error {
	return fs.WalkDir(scalegate.Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := scalegate.Files.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

func wrap(s string, width int) string {
	var b strings.Builder
	col := 0
	for _, w := range strings.Fields(s) {
		if col > 0 && col+1+len(w) > width {
			b.WriteByte('\n')
			col = 0
		} else if col > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}
