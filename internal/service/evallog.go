package service

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/evallog"
	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
)

// DefaultElicitation is the elicitation of an evaluation-log result when
// neither the caller nor the log's metadata names one.
const DefaultElicitation = "prompted"

// LogImportOptions tune ImportLogs.
type LogImportOptions struct {
	// Evaluation, when set, is the one evaluation every log is a result
	// for; otherwise each log task is mapped through the evaluations'
	// sources.
	Evaluation string
	// Elicitation, when set, overrides the log's metadata "elicitation"
	// and the default (DefaultElicitation).
	Elicitation string
	// AllowIncomplete records logs of runs that did not complete (see
	// evallog.Log.Complete) as incomplete results, which the gate does not
	// count, instead of refusing them.
	AllowIncomplete bool
	// At is the results' time; zero means now.
	At time.Time
}

// LogImported is what ImportLogs read and recorded. The embedded Imported
// counts new results (Results) and results already recorded identically
// (Unchanged).
type LogImported struct {
	Imported
	// Logs lists one entry per result read from the logs, in the order of
	// the files and of the tasks within each file.
	Logs []LogResult `json:"logs"`
	// Skipped lists the tasks of multi-task logs that no source maps to an
	// evaluation (each log must yield at least one result).
	Skipped []SkippedTask `json:"skipped,omitempty"`
}

// LogResult is one result read from an evaluation log.
type LogResult struct {
	// File is the log's path as given.
	File   string          `json:"file"`
	Result evidence.Result `json:"result"`
	// Unchanged reports that an identical result (same checkpoint,
	// evaluation, file digest, task, scorer, metric, elicitation and
	// completeness) was already recorded, so nothing new was written.
	Unchanged bool `json:"unchanged,omitempty"`
	// LogIndex is the new record's log index (-1 when Unchanged).
	LogIndex int64 `json:"logIndex"`
}

// SkippedTask is a task of a log that maps to no evaluation.
type SkippedTask struct {
	File string `json:"file"`
	Task string `json:"task"`
}

// openedLog is a parsed log with what the import derives from it alone.
type openedLog struct {
	path        string
	log         *evallog.Log
	incomplete  error // nil when the run completed
	elicitation string
}

// ImportLogs reads evaluation logs (Inspect .json and .eval, lm-eval
// results; the format is detected from the content) and records one result
// per (log, evaluation) for checkpoint, all in one transaction: either every
// result is written, with its log leaf and a new signed checkpoint, or none
// is. Every error caused by the input is a bad-input error whose message is
// one line, naming the file when a file is at fault.
//
// Mapping a log to evaluations uses the evaluations of the checkpoint's
// model's policy. For each evaluation id, the declaration (and so its
// sources) of the version in force at the results' time is used when that
// version declares it with sources; otherwise that of the newest published
// version that does (evidence may precede the version that takes it into
// account); an evaluation no version gives sources has none. A
// source matches a log task when the formats are equal and the task names
// are equal, or when the source task has no "/" and the log task ends in
// "/"+source task (Inspect registry names: a source task "gpqa_diamond"
// matches the log task "inspect_evals/gpqa_diamond", but a source task
// "inspect_evals/gpqa_diamond" matches only that name).
//
// Without opt.Evaluation every evaluation whose sources match a task gets a
// result. A log none of whose tasks is mapped is bad input; in a multi-task
// log (lm-eval groups) the tasks no source names are skipped and listed.
// With opt.Evaluation only that evaluation is considered: if it declares
// sources, it must have sources of the log's format and exactly one task of
// each log must match one of them; if it declares none, the log must have
// exactly one task that
// reports exactly one metric other than "stderr", and that metric is the
// score. In both modes one log yields at most one result per evaluation;
// a log in which an evaluation's sources match several tasks is bad input.
//
// The score is the source's metric (evallog.Log.Find with the source's
// task, scorer and metric); the result keeps its stderr where reported, the
// number of samples the metric was computed over, and a Source naming the
// format, the file's base name and SHA-256, the task and its version, the
// scorer, the metric (with its lm-eval filter) and the model named in the
// log.
//
// A log whose run did not complete (evallog.Log.Complete) is bad input
// unless opt.AllowIncomplete, which records its results with Incomplete
// set. The elicitation is opt.Elicitation, else the log's metadata
// "elicitation", else DefaultElicitation. A result identical to one already
// recorded is not recorded again (re-importing a log does not refresh an
// assessment's time); it is counted as Unchanged.
func (s *Service) ImportLogs(ctx context.Context, checkpoint string, paths []string, opt LogImportOptions, by string) (*LogImported, error) {
	if checkpoint == "" {
		return nil, badInputf("a checkpoint is required to import evaluation logs")
	}
	if len(paths) == 0 {
		return nil, badInputf("no evaluation log files given")
	}
	if opt.Elicitation != "" && policy.ElicitationRank(opt.Elicitation) < 0 {
		return nil, badInputf("elicitation must be one of %s, got %q", strings.Join(policy.Elicitations, ", "), opt.Elicitation)
	}
	at := opt.At
	if at.IsZero() {
		at = s.Now()
	}
	at = at.UTC()
	logs := make([]*openedLog, 0, len(paths))
	for _, p := range paths {
		ol, err := openLog(p, opt)
		if err != nil {
			return nil, err
		}
		logs = append(logs, ol)
	}
	out := &LogImported{}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		*out = LogImported{}
		im := &importer{s: s, ctx: ctx, tx: tx, models: map[string]*evidence.Model{}, checkpoints: map[string]*evidence.Checkpoint{}, ids: map[string]*policyIDs{}}
		c, err := im.checkpoint(checkpoint)
		if err != nil {
			return err
		}
		if c == nil {
			return badInputf("unknown checkpoint %q", checkpoint)
		}
		m, err := im.model(c.Model)
		if err != nil {
			return err
		}
		if m == nil {
			return fmt.Errorf("checkpoint %q refers to unknown model %q", c.ID, c.Model)
		}
		versions, _, err := s.versions(ctx, tx, m.Policy)
		if err != nil {
			return err
		}
		if len(versions) == 0 {
			return badInputf("policy %q of model %q is not published; publish it before importing evaluation logs", m.Policy, m.ID)
		}
		cat := newEvalCatalog(versions, at)
		seen, err := recordedResults(ctx, tx, m.ID)
		if err != nil {
			return err
		}
		var recs []store.Record
		var pending []int // indexes into out.Logs of the new records
		for _, ol := range logs {
			picks, skipped, err := cat.mapLog(ol, opt.Evaluation, m.Policy)
			if err != nil {
				return err
			}
			out.Skipped = append(out.Skipped, skipped...)
			for _, pk := range picks {
				r := buildResult(ol, pk, checkpoint, at)
				lr := LogResult{File: ol.path, Result: r, LogIndex: -1}
				key := resultKeyOf(&r)
				if seen[key] {
					lr.Unchanged = true
					out.Unchanged++
					out.Logs = append(out.Logs, lr)
					continue
				}
				seen[key] = true
				rec, err := newRecord(store.KindResult, "", m.ID, "", by, r.At, &r, nil)
				if err != nil {
					return err
				}
				recs = append(recs, rec)
				pending = append(pending, len(out.Logs))
				out.Logs = append(out.Logs, lr)
				out.Results++
			}
		}
		if len(recs) == 0 {
			out.First, out.Last = 0, -1
			return nil
		}
		first, err := tx.Append(ctx, recs)
		if err != nil {
			return err
		}
		out.First, out.Last = first, first+int64(len(recs))-1
		for i, j := range pending {
			out.Logs[j].LogIndex = first + int64(i)
		}
		return s.signCheckpoint(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openLog parses one log and checks what depends on the log alone.
func openLog(path string, opt LogImportOptions) (*openedLog, error) {
	l, err := evallog.Open(path, evallog.Limits{})
	if err != nil {
		return nil, badInput(err)
	}
	ol := &openedLog{path: path, log: l, incomplete: l.Complete()}
	if ol.incomplete != nil && !opt.AllowIncomplete {
		return nil, badInput(fmt.Errorf("%w; the gate would not count it (import it with --allow-incomplete to record it as an incomplete result)", ol.incomplete))
	}
	switch e, ok := l.Metadata["elicitation"]; {
	case opt.Elicitation != "":
		ol.elicitation = opt.Elicitation
	case ok:
		if policy.ElicitationRank(e) < 0 {
			return nil, badInputf("%s: metadata elicitation must be one of %s, got %q", path, strings.Join(policy.Elicitations, ", "), e)
		}
		ol.elicitation = e
	default:
		ol.elicitation = DefaultElicitation
	}
	return ol, nil
}

// evalCatalog holds, for each evaluation id of a policy, the declaration
// the import maps logs with.
type evalCatalog struct {
	ids   []string // sorted
	evals map[string]*policy.Evaluation
}

// newEvalCatalog picks each evaluation's declaration: that of the version
// in force at at if it declares the evaluation with sources; else that of
// the newest published version declaring it with sources; else (no version
// gives it sources) that of the version in force, or the newest, declaring
// it. versions are in publication order, which is version order.
func newEvalCatalog(versions []gate.Version, at time.Time) *evalCatalog {
	c := &evalCatalog{evals: map[string]*policy.Evaluation{}}
	add := func(v *gate.Version) {
		for i := range v.Policy.Evaluations {
			e := &v.Policy.Evaluations[i]
			if cur := c.evals[e.ID]; cur == nil || len(e.Sources) > 0 || len(cur.Sources) == 0 {
				c.evals[e.ID] = e
			}
		}
	}
	for i := range versions {
		add(&versions[i])
	}
	if v, _ := gate.InForce(versions, at); v != nil {
		add(v)
	}
	for id := range c.evals {
		c.ids = append(c.ids, id)
	}
	slices.Sort(c.ids)
	return c
}

// pick is one (evaluation, task, metric) a log yields a result for.
type pick struct {
	eval   string
	task   *evallog.Task
	metric evallog.Metric
}

// taskMatches reports whether a source's task names a log's task.
func taskMatches(source, task string) bool {
	return source == task || !strings.Contains(source, "/") && strings.HasSuffix(task, "/"+source)
}

// mapLog maps a log's tasks to evaluations; see ImportLogs for the rules.
func (c *evalCatalog) mapLog(ol *openedLog, only, policyName string) ([]pick, []SkippedTask, error) {
	l := ol.log
	if len(l.Tasks) == 0 {
		return nil, nil, badInputf("%s: the log has no tasks with results", ol.path)
	}
	format := string(l.Format)
	if only != "" {
		e := c.evals[only]
		if e == nil {
			return nil, nil, badInputf("%s: evaluation %q is not declared by any published version of policy %q (declared: %s)", ol.path, only, policyName, strings.Join(c.ids, ", "))
		}
		p, skipped, err := c.mapOne(ol, e)
		if err != nil {
			return nil, nil, err
		}
		return []pick{p}, skipped, nil
	}
	// type match is one source matching one task.
	type match struct {
		task int
		src  policy.Source
	}
	byEval := map[string][]match{}
	mapped := make([]bool, len(l.Tasks))
	for _, id := range c.ids {
		for _, src := range c.evals[id].Sources {
			if src.Format != format {
				continue
			}
			for ti := range l.Tasks {
				if taskMatches(src.Task, l.Tasks[ti].Name) {
					byEval[id] = append(byEval[id], match{ti, src})
					mapped[ti] = true
				}
			}
		}
	}
	if len(byEval) == 0 {
		names := make([]string, len(l.Tasks))
		for i := range l.Tasks {
			names[i] = fmt.Sprintf("%q", l.Tasks[i].Name)
		}
		what := "task " + names[0] + " is"
		if len(names) > 1 {
			what = "none of the tasks " + firstFew(names) + " is"
		}
		return nil, nil, badInputf("%s: %s not mapped to any evaluation of policy %q: no %s source names it (%s); add a source to the policy or pass --evaluation", ol.path, what, policyName, format, c.sourcesText(format))
	}
	var picks []pick
	for _, id := range c.ids {
		ms := byEval[id]
		if len(ms) == 0 {
			continue
		}
		if len(ms) > 1 {
			var tasks []string
			for _, m := range ms {
				tasks = append(tasks, fmt.Sprintf("%q", l.Tasks[m.task].Name))
			}
			return nil, nil, badInputf("%s: the sources of evaluation %q match more than one task of the log (%s); one log gives at most one result per evaluation", ol.path, id, strings.Join(tasks, ", "))
		}
		p, err := findMetric(ol, id, &l.Tasks[ms[0].task], ms[0].src)
		if err != nil {
			return nil, nil, err
		}
		picks = append(picks, p)
	}
	var skipped []SkippedTask
	for ti, ok := range mapped {
		if !ok {
			skipped = append(skipped, SkippedTask{File: ol.path, Task: l.Tasks[ti].Name})
		}
	}
	return picks, skipped, nil
}

// mapOne maps a log to the one evaluation e (--evaluation).
func (c *evalCatalog) mapOne(ol *openedLog, e *policy.Evaluation) (pick, []SkippedTask, error) {
	l := ol.log
	format := string(l.Format)
	if len(e.Sources) == 0 {
		if len(l.Tasks) != 1 {
			return pick{}, nil, badInputf("%s: evaluation %q declares no sources and the log has %d tasks; declare a source naming the task and metric in the policy", ol.path, e.ID, len(l.Tasks))
		}
		t := &l.Tasks[0]
		var cands []evallog.Metric
		for _, m := range t.Metrics {
			if m.Name != "stderr" {
				cands = append(cands, m)
			}
		}
		if len(cands) != 1 {
			labels := make([]string, len(t.Metrics))
			for i, m := range t.Metrics {
				labels[i] = metricLabel(m)
			}
			return pick{}, nil, badInputf("%s: evaluation %q declares no sources and task %q reports %d metrics besides stderr (%s); declare a source naming the metric in the policy", ol.path, e.ID, t.Name, len(cands), strings.Join(labels, ", "))
		}
		if err := checkMetric(ol, t, cands[0]); err != nil {
			return pick{}, nil, err
		}
		return pick{eval: e.ID, task: t, metric: cands[0]}, nil, nil
	}
	var srcs []policy.Source
	for _, src := range e.Sources {
		if src.Format == format {
			srcs = append(srcs, src)
		}
	}
	if len(srcs) == 0 {
		return pick{}, nil, badInputf("%s: the log is %s, but evaluation %q has only %s sources", ol.path, format, e.ID, sourceFormats(e.Sources))
	}
	type match struct {
		task int
		src  policy.Source
	}
	var ms []match
	for _, src := range srcs {
		for ti := range l.Tasks {
			if taskMatches(src.Task, l.Tasks[ti].Name) {
				ms = append(ms, match{ti, src})
			}
		}
	}
	switch len(ms) {
	case 0:
		names := make([]string, len(l.Tasks))
		for i := range l.Tasks {
			names[i] = fmt.Sprintf("%q", l.Tasks[i].Name)
		}
		var want []string
		for _, src := range srcs {
			want = append(want, fmt.Sprintf("%q", src.Task))
		}
		return pick{}, nil, badInputf("%s: no task of the log (%s) matches the %s sources of evaluation %q (tasks %s)", ol.path, firstFew(names), format, e.ID, strings.Join(want, ", "))
	case 1:
	default:
		var tasks []string
		for _, m := range ms {
			tasks = append(tasks, fmt.Sprintf("%q", l.Tasks[m.task].Name))
		}
		return pick{}, nil, badInputf("%s: the sources of evaluation %q match more than one task of the log (%s); one log gives at most one result per evaluation", ol.path, e.ID, strings.Join(tasks, ", "))
	}
	p, err := findMetric(ol, e.ID, &l.Tasks[ms[0].task], ms[0].src)
	if err != nil {
		return pick{}, nil, err
	}
	var skipped []SkippedTask
	for ti := range l.Tasks {
		if ti != ms[0].task {
			skipped = append(skipped, SkippedTask{File: ol.path, Task: l.Tasks[ti].Name})
		}
	}
	return p, skipped, nil
}

// findMetric looks up a source's metric in a task.
func findMetric(ol *openedLog, eval string, t *evallog.Task, src policy.Source) (pick, error) {
	m, task, err := ol.log.Find(t.Name, src.Scorer, src.Metric)
	if err != nil {
		return pick{}, badInput(fmt.Errorf("%w (the source of evaluation %q)", err, eval))
	}
	if err := checkMetric(ol, task, m); err != nil {
		return pick{}, err
	}
	return pick{eval: eval, task: task, metric: m}, nil
}

// checkMetric re-checks what a result requires of a metric (evallog
// already refuses non-finite values).
func checkMetric(ol *openedLog, t *evallog.Task, m evallog.Metric) error {
	if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
		return badInputf("%s: task %q: metric %s is %v; a score must be a finite number", ol.path, t.Name, metricLabel(m), m.Value)
	}
	if m.Stderr != nil && (math.IsNaN(*m.Stderr) || math.IsInf(*m.Stderr, 0) || *m.Stderr < 0) {
		return badInputf("%s: task %q: stderr of metric %s is %v; it must be a finite non-negative number", ol.path, t.Name, metricLabel(m), *m.Stderr)
	}
	return nil
}

// metricLabel names a metric as a source's metric field would.
func metricLabel(m evallog.Metric) string {
	name := m.Name
	if m.Filter != "" {
		name += "," + m.Filter
	}
	if m.Scorer != "" {
		return m.Scorer + "/" + name
	}
	return name
}

// sourcesText lists the evaluations with sources of a format, for errors.
func (c *evalCatalog) sourcesText(format string) string {
	var parts []string
	for _, id := range c.ids {
		var tasks []string
		for _, src := range c.evals[id].Sources {
			if src.Format == format {
				tasks = append(tasks, fmt.Sprintf("%q", src.Task))
			}
		}
		if len(tasks) > 0 {
			parts = append(parts, fmt.Sprintf("%s: task %s", id, strings.Join(tasks, ", ")))
		}
	}
	if len(parts) == 0 {
		return fmt.Sprintf("no evaluation has %s sources; evaluations: %s", format, strings.Join(c.ids, ", "))
	}
	return fmt.Sprintf("%s sources: %s", format, strings.Join(parts, "; "))
}

func sourceFormats(srcs []policy.Source) string {
	var fs []string
	for _, s := range srcs {
		if !slices.Contains(fs, s.Format) {
			fs = append(fs, s.Format)
		}
	}
	return strings.Join(fs, ", ")
}

// firstFew joins up to ten items, saying how many more there are.
func firstFew(xs []string) string {
	const max = 10
	s := strings.Join(xs[:min(len(xs), max)], ", ")
	if len(xs) > max {
		s += fmt.Sprintf(" and %d more", len(xs)-max)
	}
	return s
}

// buildResult makes the result record for one pick.
func buildResult(ol *openedLog, pk pick, checkpoint string, at time.Time) evidence.Result {
	l := ol.log
	name := pk.metric.Name
	if pk.metric.Filter != "" {
		name += "," + pk.metric.Filter
	}
	r := evidence.Result{
		Checkpoint:  checkpoint,
		Evaluation:  pk.eval,
		Score:       pk.metric.Value,
		Stderr:      pk.metric.Stderr,
		Elicitation: ol.elicitation,
		At:          at,
		Incomplete:  ol.incomplete != nil,
		Source: &evidence.Source{
			Format:      string(l.Format),
			File:        filepath.Base(ol.path),
			Digest:      l.SHA256,
			Task:        pk.task.Name,
			TaskVersion: pk.task.Version,
			Scorer:      pk.metric.Scorer,
			Metric:      name,
			LogModel:    l.Model,
		},
	}
	if pk.task.Samples > 0 {
		r.Samples = int64(pk.task.Samples)
	}
	return r
}

// resultKey identifies a result read from a log, for idempotent imports.
type resultKey struct {
	checkpoint, evaluation, digest, task, scorer, metric, elicitation string
	incomplete                                                        bool
}

func resultKeyOf(r *evidence.Result) resultKey {
	k := resultKey{checkpoint: r.Checkpoint, evaluation: r.Evaluation, elicitation: r.Elicitation, incomplete: r.Incomplete}
	if r.Source != nil {
		k.digest, k.task, k.scorer, k.metric = r.Source.Digest, r.Source.Task, r.Source.Scorer, r.Source.Metric
	}
	return k
}

// recordedResults returns the keys of a model's recorded results that
// came from evaluation logs.
func recordedResults(ctx context.Context, r store.Reader, model string) (map[resultKey]bool, error) {
	recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindResult}, Model: model})
	if err != nil {
		return nil, err
	}
	seen := map[resultKey]bool{}
	for _, rec := range recs {
		var x evidence.Result
		if _, err := decodeEnvelope(rec, &x); err != nil {
			return nil, err
		}
		if x.Source != nil && x.Source.Digest != "" {
			seen[resultKeyOf(&x)] = true
		}
	}
	return seen, nil
}
