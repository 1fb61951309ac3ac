package runner

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// InspectLogVersion is the Inspect log format version written.
const InspectLogVersion = 2

// LogInfo describes a run for its Inspect log.
type LogInfo struct {
	RunID        string
	Task         string
	TaskVersion  string
	TaskFile     string
	DatasetName  string
	DatasetFile  string
	DatasetSize  int
	Model        string
	ModelBaseURL string
	Generation   Generation
	System       string
	Template     string
	Scorer       Scorer
	// Status is "success", "cancelled" or "error"; Error explains an
	// error.
	Status  string
	Error   string
	Created time.Time
	// Started and Completed bound the run (all invocations).
	Started, Completed time.Time
	// Metadata is the eval metadata (string values are what scalegate
	// import reads, e.g. "elicitation").
	Metadata map[string]any
	Version  string // scalegate version, for eval.packages
}

// WriteInspectLog writes an Inspect-compatible .json log (format version
// 2) of a run: items and their outcomes (nil outcomes are left out, and
// the results count them as not completed). The file is written to a
// temporary name and renamed into place.
func WriteInspectLog(path string, info *LogInfo, items []Item, outcomes []*Outcome) error {
	log := buildInspectLog(info, items, outcomes)
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("inspect log: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 256<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(log); err != nil {
		tmp.Close()
		return fmt.Errorf("inspect log: %w", err)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("inspect log: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("inspect log: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("inspect log: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("inspect log: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("inspect log: %w", err)
	}
	return nil
}

type inspectLog struct {
	Version int            `json:"version"`
	Status  string         `json:"status"`
	Eval    inspectEval    `json:"eval"`
	Plan    inspectPlan    `json:"plan"`
	Results *inspectResult `json:"results"`
	Stats   inspectStats   `json:"stats"`
	Error   *inspectError  `json:"error,omitempty"`
	Samples []inspectSmp   `json:"samples"`
}

type inspectEval struct {
	EvalID              string            `json:"eval_id"`
	RunID               string            `json:"run_id"`
	Created             string            `json:"created"`
	Task                string            `json:"task"`
	TaskID              string            `json:"task_id"`
	TaskVersion         any               `json:"task_version"`
	TaskFile            string            `json:"task_file,omitempty"`
	TaskAttribs         map[string]any    `json:"task_attribs"`
	TaskArgs            map[string]any    `json:"task_args"`
	Dataset             inspectDataset    `json:"dataset"`
	Model               string            `json:"model"`
	ModelGenerateConfig map[string]any    `json:"model_generate_config"`
	ModelBaseURL        string            `json:"model_base_url,omitempty"`
	ModelArgs           map[string]any    `json:"model_args"`
	Config              map[string]any    `json:"config"`
	Packages            map[string]string `json:"packages"`
	Metadata            map[string]any    `json:"metadata,omitempty"`
	Scorers             []inspectScorer   `json:"scorers"`
}

type inspectScorer struct {
	Name    string            `json:"name"`
	Options map[string]any    `json:"options"`
	Metrics []inspectMetricDf `json:"metrics"`
}

type inspectMetricDf struct {
	Name    string         `json:"name"`
	Options map[string]any `json:"options"`
}

type inspectDataset struct {
	Name      string     `json:"name,omitempty"`
	Location  string     `json:"location,omitempty"`
	Samples   int        `json:"samples"`
	SampleIDs []SampleID `json:"sample_ids"`
	Shuffled  bool       `json:"shuffled"`
}

type inspectPlan struct {
	Name   string            `json:"name"`
	Steps  []inspectPlanStep `json:"steps"`
	Config map[string]any    `json:"config"`
}

type inspectPlanStep struct {
	Solver string         `json:"solver"`
	Params map[string]any `json:"params"`
}

type inspectResult struct {
	TotalSamples     int            `json:"total_samples"`
	CompletedSamples int            `json:"completed_samples"`
	Scores           []inspectScore `json:"scores"`
}

type inspectScore struct {
	Name            string                   `json:"name"`
	Scorer          string                   `json:"scorer"`
	ScoredSamples   int                      `json:"scored_samples"`
	UnscoredSamples int                      `json:"unscored_samples"`
	Params          map[string]any           `json:"params"`
	Metrics         map[string]inspectMetric `json:"metrics"`
}

type inspectMetric struct {
	Name   string         `json:"name"`
	Value  float64        `json:"value"`
	Params map[string]any `json:"params"`
}

type inspectStats struct {
	StartedAt   string           `json:"started_at"`
	CompletedAt string           `json:"completed_at"`
	ModelUsage  map[string]Usage `json:"model_usage"`
}

type inspectError struct {
	Message       string `json:"message"`
	Traceback     string `json:"traceback"`
	TracebackANSI string `json:"traceback_ansi"`
}

type inspectMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Source  string `json:"source,omitempty"`
}

type inspectSmp struct {
	ID          SampleID          `json:"id"`
	Epoch       int               `json:"epoch"`
	Input       json.RawMessage   `json:"input"`
	Choices     []string          `json:"choices,omitempty"`
	Target      any               `json:"target"`
	Messages    []inspectMsg      `json:"messages"`
	Output      inspectOutput     `json:"output"`
	Scores      map[string]Score  `json:"scores"`
	Metadata    map[string]any    `json:"metadata"`
	Store       map[string]any    `json:"store"`
	Events      []any             `json:"events"`
	ModelUsage  map[string]Usage  `json:"model_usage"`
	TotalTime   float64           `json:"total_time"`
	WorkingTime float64           `json:"working_time"`
	Attachments map[string]string `json:"attachments"`
}

type inspectOutput struct {
	Model   string          `json:"model"`
	Choices []inspectChoice `json:"choices"`
	Usage   Usage           `json:"usage"`
	Time    float64         `json:"time"`
}

type inspectChoice struct {
	Message    inspectMsg `json:"message"`
	StopReason string     `json:"stop_reason"`
}

// stopReason maps an OpenAI finish_reason to Inspect's stop_reason.
func stopReason(f string) string {
	switch f {
	case "stop", "":
		return "stop"
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	}
	return "unknown"
}

// shortID derives a 22-character id (Inspect uses shortuuids) from s.
func shortID(s string) string {
	const alpha = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(s))
	var b strings.Builder
	for i := range 22 {
		b.WriteByte(alpha[int(sum[i])%len(alpha)])
	}
	return b.String()
}

func generateConfig(g Generation) map[string]any {
	m := map[string]any{}
	if g.Temperature != nil {
		m["temperature"] = *g.Temperature
	}
	if g.TopP != nil {
		m["top_p"] = *g.TopP
	}
	if g.MaxTokens != nil {
		m["max_tokens"] = *g.MaxTokens
	}
	if g.Seed != nil {
		m["seed"] = *g.Seed
	}
	if len(g.Stop) > 0 {
		m["stop_seqs"] = g.Stop
	}
	return m
}

func buildInspectLog(info *LogInfo, items []Item, outcomes []*Outcome) *inspectLog {
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000-07:00") }
	sc := info.Scorer
	l := &inspectLog{Version: InspectLogVersion, Status: info.Status}
	var tv any = 0
	if info.TaskVersion != "" {
		tv = info.TaskVersion
	}
	ids := make([]SampleID, len(items))
	for i, it := range items {
		ids[i] = it.Sample.ID
	}
	size := info.DatasetSize
	if size == 0 {
		size = len(items)
	}
	version := info.Version
	if version == "" {
		version = "dev"
	}
	l.Eval = inspectEval{
		EvalID: shortID("eval:" + info.RunID), RunID: shortID("run:" + info.RunID), Created: ts(info.Created),
		Task: info.Task, TaskID: shortID("task:" + info.RunID), TaskVersion: tv, TaskFile: info.TaskFile,
		TaskAttribs: map[string]any{}, TaskArgs: map[string]any{},
		Dataset:             inspectDataset{Name: info.DatasetName, Location: info.DatasetFile, Samples: size, SampleIDs: ids},
		Model:               info.Model,
		ModelGenerateConfig: generateConfig(info.Generation),
		ModelBaseURL:        info.ModelBaseURL,
		ModelArgs:           map[string]any{},
		Config:              map[string]any{},
		Packages:            map[string]string{"scalegate": version},
		Metadata:            info.Metadata,
		Scorers:             []inspectScorer{{Name: sc.Name(), Options: sc.Params(), Metrics: []inspectMetricDf{{Name: "accuracy", Options: map[string]any{}}, {Name: "stderr", Options: map[string]any{}}}}},
	}
	var steps []inspectPlanStep
	if info.System != "" {
		steps = append(steps, inspectPlanStep{Solver: "system_message", Params: map[string]any{"template": info.System}})
	}
	switch {
	case sc.Name() == "choice":
		p := map[string]any{}
		if info.Template != "" {
			p["template"] = info.Template
		}
		steps = append(steps, inspectPlanStep{Solver: "multiple_choice", Params: p})
	default:
		if info.Template != "" {
			steps = append(steps, inspectPlanStep{Solver: "prompt_template", Params: map[string]any{"template": info.Template}})
		}
		steps = append(steps, inspectPlanStep{Solver: "generate", Params: map[string]any{}})
	}
	l.Plan = inspectPlan{Name: "plan", Steps: steps, Config: generateConfig(info.Generation)}

	total := Usage{}
	l.Samples = []inspectSmp{}
	var scored []*Outcome
	for i, it := range items {
		o := outcomes[i]
		if o == nil || o.Score == nil {
			continue
		}
		scored = append(scored, o)
		s := it.Sample
		model := o.Model
		if model == "" {
			model = info.Model
		}
		msgs := make([]inspectMsg, 0, len(it.Messages)+1)
		for j, m := range it.Messages {
			im := inspectMsg{Role: m.Role, Content: m.Content}
			if j == len(it.Messages)-1 && m.Role == "user" {
				im.Source = "input"
			}
			msgs = append(msgs, im)
		}
		out := inspectMsg{Role: "assistant", Content: o.Output, Source: "generate"}
		msgs = append(msgs, out)
		var target any = s.TargetText()
		if s.TargetList {
			target = s.Target
		}
		md := s.Metadata
		if md == nil {
			md = map[string]any{}
		}
		input := s.RawInput
		if len(input) == 0 {
			input, _ = json.Marshal(s.InputText())
		}
		total.InputTokens += o.Usage.InputTokens
		total.OutputTokens += o.Usage.OutputTokens
		total.TotalTokens += o.Usage.TotalTokens
		l.Samples = append(l.Samples, inspectSmp{
			ID: s.ID, Epoch: s.Epoch, Input: input, Choices: s.Choices, Target: target, Messages: msgs,
			Output:      inspectOutput{Model: model, Choices: []inspectChoice{{Message: out, StopReason: stopReason(o.FinishReason)}}, Usage: o.Usage, Time: o.Seconds},
			Scores:      map[string]Score{sc.Name(): *o.Score},
			Metadata:    md,
			Store:       map[string]any{},
			Events:      []any{},
			ModelUsage:  map[string]Usage{info.Model: o.Usage},
			TotalTime:   o.Seconds,
			WorkingTime: o.Seconds,
			Attachments: map[string]string{},
		})
	}
	m := Aggregate(scored)
	l.Results = &inspectResult{
		TotalSamples: len(items), CompletedSamples: m.N,
		Scores: []inspectScore{{
			Name: sc.Name(), Scorer: sc.Name(), ScoredSamples: m.N, UnscoredSamples: 0, Params: sc.Params(),
			Metrics: map[string]inspectMetric{
				"accuracy": {Name: "accuracy", Value: m.Accuracy, Params: map[string]any{}},
				"stderr":   {Name: "stderr", Value: m.Stderr, Params: map[string]any{}},
			},
		}},
	}
	l.Stats = inspectStats{StartedAt: ts(info.Started), CompletedAt: ts(info.Completed), ModelUsage: map[string]Usage{info.Model: total}}
	if info.Error != "" {
		l.Error = &inspectError{Message: info.Error, Traceback: info.Error, TracebackANSI: info.Error}
	}
	return l
}
