package evallog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strings"
)

// Format names the harness that wrote a log.
type Format string

// Accepted formats.
const (
	FormatInspect Format = "inspect" // UK AISI Inspect, .json or .eval
	FormatLMEval  Format = "lm-eval" // EleutherAI lm-evaluation-harness results_*.json
)

// Inspect run statuses; lm-eval results files are always StatusSuccess
// (the harness writes them only after a run finishes).
const (
	StatusStarted   = "started"
	StatusSuccess   = "success"
	StatusCancelled = "cancelled"
	StatusError     = "error"
)

// Limits bound the resources one parse may use. A zero or negative field
// means its default (see DefaultLimits).
type Limits struct {
	// MaxFileBytes is the largest input accepted.
	MaxFileBytes int64
	// MaxEntryBytes bounds the bytes held in memory for parsing: the
	// decompressed size of the header.json (or _journal/start.json) entry
	// of an .eval archive, and the total size of the top-level JSON
	// members a .json log keeps for parsing (everything except skipped
	// data such as "samples"). It is the zip-bomb bound.
	MaxEntryBytes int64
	// MaxDepth is the deepest JSON nesting accepted anywhere in the input,
	// including in skipped sample data.
	MaxDepth int
}

// Default limits. 4 GiB covers the largest real Inspect logs, which keep
// per-sample transcripts. header.json is a few KiB to a few MiB in practice
// (its largest part is eval.dataset.sample_ids); 64 MiB leaves two orders of
// magnitude of headroom while keeping the worst-case memory of a crafted
// header (a dense metrics table) near 1 GiB. 10000 levels matches
// encoding/json; Python's json and pydantic cannot read logs nested that
// deeply, so no real log comes close.
const (
	DefaultMaxFileBytes  int64 = 4 << 30
	DefaultMaxEntryBytes int64 = 64 << 20
	DefaultMaxDepth            = 10000
)

// DefaultLimits returns the limits used for zero Limits fields.
func DefaultLimits() Limits {
	return Limits{MaxFileBytes: DefaultMaxFileBytes, MaxEntryBytes: DefaultMaxEntryBytes, MaxDepth: DefaultMaxDepth}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = d.MaxEntryBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	return l
}

// Log is the harness-neutral content of one evaluation log file.
type Log struct {
	Name   string // file name as given to Open or Parse; prefixes every error
	Format Format
	SHA256 string // "sha256:<hex>" of the raw file bytes
	Size   int64  // bytes in the file

	Model  string // inspect: eval.model; lm-eval: "<config.model>/<model name>"
	Status string // inspect: started|success|cancelled|error; lm-eval: success
	// RunError is the first line of the Inspect error message when Status
	// is "error".
	RunError string

	Tasks []Task
	// Metadata holds the string-valued eval metadata (Inspect: the current
	// top-level "metadata", which includes post-run edits, else
	// eval.metadata). Values of other types are left out. Never nil.
	Metadata map[string]string

	HarnessVersion string // inspect: eval.packages.inspect_ai; lm-eval: lm_eval_version
	Created        string // inspect: eval.created as written; lm-eval: "date" as RFC 3339 UTC
}

// Task is one evaluated task (an Inspect log has exactly one).
type Task struct {
	Name    string
	Version string // task_version / versions[task] as written ("0", "1.0", "v2")

	// TotalSamples is the number of samples the run set out to evaluate,
	// after any --limit (Inspect: results.total_samples; lm-eval:
	// n-samples.effective). CompletedSamples is how many completed
	// (lm-eval writes results only after a run, so it equals TotalSamples).
	// Both are -1 when the log does not say.
	TotalSamples, CompletedSamples int
	// Samples is the number of samples the metrics were computed over
	// (Inspect: the smallest scores[].scored_samples, else
	// completed_samples; lm-eval: n-samples.effective), -1 if unknown.
	Samples int
	// DatasetSamples is the size of the dataset before any limit (Inspect:
	// eval.dataset.samples; lm-eval: n-samples.original), -1 if unknown.
	DatasetSamples int

	Metrics []Metric

	// Invalidated reports that samples were invalidated after the run
	// (Inspect "invalidated").
	Invalidated bool
}

// Metric is one reported aggregate value.
type Metric struct {
	// Scorer is the Inspect score name (results.scores[].name); empty for
	// lm-eval.
	Scorer string
	// Name is the metric name: the Inspect metrics key ("accuracy"), or
	// the lm-eval key up to its last comma ("acc").
	Name string
	// Filter is the lm-eval filter, after the last comma of the key
	// ("none", "strict-match"); empty for Inspect and for legacy lm-eval
	// keys without a comma.
	Filter string
	Value  float64
	// Stderr is the standard error of Value, nil when not reported. lm-eval:
	// the matching "<metric>_stderr,<filter>" ("N/A" → nil). Inspect: the
	// scorer's "stderr" metric, attached to its "accuracy" and "mean"
	// metrics (the quantities Inspect's stderr() is defined for); the
	// "stderr" metric is also listed as a metric of its own.
	Stderr *float64

	scorerFunc string // Inspect results.scores[].scorer, also matched by Find
}

// Error kinds, matched with errors.Is.
var (
	ErrUnknownFormat = errors.New("unrecognized log format")
	ErrLimit         = errors.New("resource limit exceeded")
	ErrSyntax        = errors.New("malformed json")
	ErrInvalid       = errors.New("invalid log content")
	ErrNotFound      = errors.New("not found")
	ErrIncomplete    = errors.New("incomplete evaluation")
)

// detailError carries a message, an error kind and an underlying error.
type detailError struct {
	kind error
	msg  string
	err  error
}

func (e *detailError) Error() string {
	if e.err != nil {
		if e.msg == "" {
			return e.err.Error()
		}
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *detailError) Unwrap() []error {
	var errs []error
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

func invalidf(format string, args ...any) error {
	return &detailError{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

// fileError prefixes an error with the file name and keeps it on one line.
type fileError struct {
	file string
	err  error
}

func (e *fileError) Error() string {
	return oneLine(e.file + ": " + e.err.Error())
}

func (e *fileError) Unwrap() error { return e.err }

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	}
	return s
}

func wrapFile(name string, err error) error {
	if err == nil {
		return nil
	}
	var fe *fileError
	if errors.As(err, &fe) && fe.file == name {
		return err
	}
	return &fileError{file: name, err: err}
}

// Open parses the log file at path. The format is detected from the
// content, not the extension. The file must be a regular file; Open fails
// if it changes size or modification time while being read.
func Open(path string, lim Limits) (*Log, error) {
	lim = lim.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, wrapFile(path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, wrapFile(path, err)
	}
	if !before.Mode().IsRegular() {
		return nil, wrapFile(path, &detailError{kind: ErrInvalid, msg: "not a regular file"})
	}
	log, err := Parse(path, f, before.Size(), lim)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err != nil {
		return nil, wrapFile(path, err)
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return nil, wrapFile(path, &detailError{kind: ErrInvalid, msg: "file changed while being read"})
	}
	return log, nil
}

// Parse parses a log of size bytes read from r; name is used in errors and
// recorded in Log.Name. The format is detected from the content: a zip
// archive is an Inspect .eval log, a JSON object with "eval" and
// "results" or "status" is an Inspect .json log, and a JSON object with a
// "results" object and one of "versions", "configs", "n-shot" or "config"
// is an lm-eval results file. r must not change during the call.
func Parse(name string, r io.ReaderAt, size int64, lim Limits) (*Log, error) {
	lim = lim.withDefaults()
	log, err := parse(r, size, lim)
	if err != nil {
		return nil, wrapFile(name, err)
	}
	log.Name = name
	log.Size = size
	return log, nil
}

func parse(r io.ReaderAt, size int64, lim Limits) (*Log, error) {
	switch {
	case size < 0:
		return nil, &detailError{kind: ErrInvalid, msg: fmt.Sprintf("negative size %d", size)}
	case size == 0:
		return nil, &detailError{kind: ErrUnknownFormat, msg: "empty file"}
	case size > lim.MaxFileBytes:
		return nil, &detailError{kind: ErrLimit, msg: fmt.Sprintf("file is %d bytes, over the %d byte limit", size, lim.MaxFileBytes)}
	}
	var magic [4]byte
	n, err := r.ReadAt(magic[:], 0)
	if n < len(magic) && err != nil && err != io.EOF {
		return nil, err
	}
	if isZip(magic[:n]) {
		return parseEval(r, size, lim)
	}
	return parseJSONFile(r, size, lim)
}

// isZip reports whether b starts with a zip local file header, or the end
// of central directory record of an empty archive.
func isZip(b []byte) bool {
	return bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06"))
}

func newHash() hash.Hash { return sha256.New() }

func digest(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// parseJSONFile streams a JSON log once, hashing every byte read and
// keeping only the top-level members needed, then interprets them.
func parseJSONFile(r io.ReaderAt, size int64, lim Limits) (*Log, error) {
	h := newHash()
	src := io.TeeReader(io.NewSectionReader(r, 0, size), h)
	top, err := scanTop(newStreamScanner(src, lim.MaxDepth, lim.MaxEntryBytes))
	if err != nil {
		return nil, err
	}
	var log *Log
	switch top.detect() {
	case FormatInspect:
		log, err = buildInspect(top)
	case FormatLMEval:
		log, err = buildLMEval(top)
	default:
		return nil, top.unknownFormatError()
	}
	if err != nil {
		return nil, err
	}
	log.SHA256 = digest(h)
	return log, nil
}

// Find returns the metric named metric reported by scorer in task, and
// the task. metric is a metric name ("accuracy", "acc"; matching every
// lm-eval filter) or "<name>,<filter>" ("acc,none"). An empty scorer matches any scorer
// (Inspect scorers match by score name or scorer function name); an empty
// task matches the only task of a single-task log. A task name without a
// "/" also matches a unique task whose name ends in "/"+task (Inspect
// registry names such as "inspect_evals/gpqa_diamond"). Find fails if the
// lookup is ambiguous.
func (l *Log) Find(task, scorer, metric string) (Metric, *Task, error) {
	t, err := l.task(task)
	if err != nil {
		return Metric{}, nil, wrapFile(l.Name, err)
	}
	name, filter, withFilter := metric, "", false
	if i := strings.LastIndexByte(metric, ','); i >= 0 {
		name, filter, withFilter = metric[:i], metric[i+1:], true
	}
	var hits []int
	for i, m := range t.Metrics {
		if (m.Name == metric || withFilter && m.Name == name && m.Filter == filter) &&
			(scorer == "" || m.Scorer == scorer || m.scorerFunc == scorer) {
			hits = append(hits, i)
		}
	}
	what := fmt.Sprintf("metric %q", metric)
	if scorer != "" {
		what += fmt.Sprintf(" of scorer %q", scorer)
	}
	switch len(hits) {
	case 1:
		return t.Metrics[hits[0]], t, nil
	case 0:
		labels := make([]string, len(t.Metrics))
		for i, m := range t.Metrics {
			labels[i] = m.label()
		}
		return Metric{}, nil, wrapFile(l.Name, &detailError{kind: ErrNotFound,
			msg: fmt.Sprintf("%s not in task %q; available: %s", what, t.Name, listSome(labels))})
	default:
		labels := make([]string, len(hits))
		for i, h := range hits {
			labels[i] = t.Metrics[h].label()
		}
		return Metric{}, nil, wrapFile(l.Name, &detailError{kind: ErrNotFound,
			msg: fmt.Sprintf("%s is ambiguous in task %q (%s); name a scorer or filter", what, t.Name, listSome(labels))})
	}
}

func (m Metric) label() string {
	switch {
	case m.Scorer != "":
		return m.Scorer + "/" + m.Name
	case m.Filter != "":
		return m.Name + "," + m.Filter
	}
	return m.Name
}

func (l *Log) task(name string) (*Task, error) {
	if name == "" {
		if len(l.Tasks) == 1 {
			return &l.Tasks[0], nil
		}
		return nil, &detailError{kind: ErrNotFound, msg: fmt.Sprintf("no task named and the log has %d tasks: %s", len(l.Tasks), listSome(l.taskNames()))}
	}
	for i := range l.Tasks {
		if l.Tasks[i].Name == name {
			return &l.Tasks[i], nil
		}
	}
	if !strings.Contains(name, "/") {
		found := -1
		for i := range l.Tasks {
			if strings.HasSuffix(l.Tasks[i].Name, "/"+name) {
				if found >= 0 {
					return nil, &detailError{kind: ErrNotFound, msg: fmt.Sprintf("task %q is ambiguous (%q, %q)", name, l.Tasks[found].Name, l.Tasks[i].Name)}
				}
				found = i
			}
		}
		if found >= 0 {
			return &l.Tasks[found], nil
		}
	}
	return nil, &detailError{kind: ErrNotFound, msg: fmt.Sprintf("task %q not in log; available: %s", name, listSome(l.taskNames()))}
}

func (l *Log) taskNames() []string {
	names := make([]string, len(l.Tasks))
	for i, t := range l.Tasks {
		names[i] = t.Name
	}
	return names
}

// listSome joins up to 20 items for an error message.
func listSome(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	const max = 20
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(", … (%d more)", len(items)-max)
}

// Complete returns nil if the run finished successfully and every task
// completed all the samples it set out to evaluate; otherwise an error
// (matching ErrIncomplete) stating every reason found.
func (l *Log) Complete() error {
	var probs []string
	if l.Status != StatusSuccess {
		p := fmt.Sprintf("status %q", l.Status)
		if l.RunError != "" {
			p += " (" + l.RunError + ")"
		}
		probs = append(probs, p)
	}
	if len(l.Tasks) == 0 {
		probs = append(probs, "no tasks")
	}
	for _, t := range l.Tasks {
		if t.Invalidated {
			probs = append(probs, fmt.Sprintf("task %q: samples invalidated after the run", t.Name))
		}
		switch {
		case t.TotalSamples < 0 || t.CompletedSamples < 0:
			probs = append(probs, fmt.Sprintf("task %q: sample counts unknown", t.Name))
		case t.CompletedSamples != t.TotalSamples:
			probs = append(probs, fmt.Sprintf("task %q: %d of %d samples completed", t.Name, t.CompletedSamples, t.TotalSamples))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	const max = 10
	msg := strings.Join(probs[:min(len(probs), max)], "; ")
	if len(probs) > max {
		msg += fmt.Sprintf("; and %d more", len(probs)-max)
	}
	return wrapFile(l.Name, &detailError{kind: ErrIncomplete, msg: "incomplete: " + msg})
}

// topLevel is what one streaming pass over a JSON document keeps: the set
// of top-level keys and the raw bytes of the members worth parsing.
type topLevel struct {
	// keys records which of the keys that matter for detection and
	// parsing are present; others holds the first few other keys, for
	// error messages. (Recording every key would let a file of tiny
	// members grow memory without bound.)
	keys     map[string]bool
	others   []string
	sections map[string]section
	// results holds the members of a top-level "results" object one by
	// one (Inspect's legacy "sample_reductions" member is skipped, as it
	// holds per-sample data); resultsObject reports that it was an object.
	results       []member
	resultsObject bool
	maxDepth      int
}

type section struct {
	data []byte
	off  int64 // offset of data within the file (or the zip entry)
}

type member struct {
	key string
	section
}

// wantedKeys are the top-level members kept for parsing, for either
// format. Everything else, notably Inspect "samples" and lm-eval
// "configs", is validated and skipped.
var wantedKeys = map[string]bool{
	// Inspect
	"version": true, "status": true, "eval": true, "invalidated": true, "error": true, "metadata": true,
	// lm-eval
	"groups": true, "group_subtasks": true, "versions": true, "n-samples": true, "config": true,
	"model_name": true, "lm_eval_version": true, "date": true,
}

// detectKeys are the top-level keys format detection looks at.
var detectKeys = map[string]bool{"eval": true, "results": true, "status": true, "versions": true, "configs": true, "n-shot": true, "config": true}

const maxOtherKeys = 20

// scanTop walks the top-level object of a JSON document, validating all of
// it and capturing the wanted members.
func scanTop(s *scanner) (*topLevel, error) {
	c, err := s.peek()
	if err != nil {
		if err == errEnd {
			return nil, &detailError{kind: ErrUnknownFormat, msg: "unrecognized format: file is only whitespace"}
		}
		return nil, err
	}
	if c != '{' {
		return nil, &detailError{kind: ErrUnknownFormat, msg: fmt.Sprintf("unrecognized format: neither a zip archive (inspect .eval) nor a json object (starts with %s)", quoteByte(c))}
	}
	top := &topLevel{keys: map[string]bool{}, sections: map[string]section{}, maxDepth: s.maxDepth}
	capture := func() (section, error) {
		if err := s.startCapture(); err != nil {
			return section{}, err
		}
		off := s.offset()
		if err := s.skip(); err != nil {
			return section{}, err
		}
		b, err := s.stopCapture()
		return section{data: b, off: off}, err
	}
	err = s.object(func(key string) error {
		if detectKeys[key] || wantedKeys[key] {
			top.keys[key] = true
		} else if len(top.others) < maxOtherKeys {
			top.others = append(top.others, key)
		}
		switch {
		case key == "results":
			top.results, top.resultsObject = nil, false
			delete(top.sections, key)
			c, err := s.peek()
			if err != nil {
				return s.endErr(err, "expecting a value")
			}
			if c != '{' {
				sec, err := capture()
				top.sections[key] = sec
				return err
			}
			top.resultsObject = true
			return s.object(func(k string) error {
				if k == "sample_reductions" {
					return s.skip()
				}
				if err := s.charge(len(k) + 64); err != nil {
					return err
				}
				sec, err := capture()
				top.results = append(top.results, member{key: k, section: sec})
				return err
			})
		case wantedKeys[key]:
			sec, err := capture()
			top.sections[key] = sec
			return err
		}
		return s.skip()
	})
	if err != nil {
		return nil, err
	}
	if err := s.finish(); err != nil {
		return nil, err
	}
	return top, nil
}

func (t *topLevel) detect() Format {
	inspect := t.keys["eval"] && (t.keys["results"] || t.keys["status"])
	lm := t.resultsObject && (t.keys["versions"] || t.keys["configs"] || t.keys["n-shot"] || t.keys["config"])
	switch {
	case inspect && !lm:
		return FormatInspect
	case lm && !inspect:
		return FormatLMEval
	}
	return ""
}

func (t *topLevel) unknownFormatError() error {
	keys := make([]string, 0, len(t.keys)+len(t.others))
	for k := range t.keys {
		keys = append(keys, k)
	}
	keys = append(keys, t.others...)
	sort.Strings(keys)
	if t.keys["eval"] && t.resultsObject {
		return &detailError{kind: ErrUnknownFormat, msg: "unrecognized format: json has both inspect and lm-eval top-level keys"}
	}
	return &detailError{kind: ErrUnknownFormat, msg: fmt.Sprintf(
		"unrecognized format: json object is neither an inspect log (needs \"eval\" and \"results\" or \"status\") nor an lm-eval results file (needs a \"results\" object and one of \"versions\", \"configs\", \"n-shot\", \"config\"); top-level keys: %s",
		listSome(quoteAll(keys)))}
}

func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// scan returns a scanner over a captured section.
func (t *topLevel) scan(sec section) *scanner {
	return newBytesScanner(sec.data, sec.off, 1, t.maxDepth)
}
