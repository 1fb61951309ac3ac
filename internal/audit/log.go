package audit

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"

	"scalegate.dev/scalegate/internal/runner"
)

// MaxLogSize bounds the logs ReadLog accepts.
const MaxLogSize = 8 << 30

// ErrBadLog marks a log that cannot be audited (unreadable, without
// samples, or with a scorer the re-run cannot reproduce).
var ErrBadLog = errors.New("bad log")

// LabLog is what the audit reads from a lab's Inspect log.
type LabLog struct {
	File   string
	Digest string // "sha256:<hex>" of the file's bytes
	Format string // "inspect-json" or "inspect-eval"
	Task   string
	// TaskVersion is the task version as written.
	TaskVersion string
	Model       string
	Status      string
	// Scorer is the scorer function's name (registry prefix removed);
	// ScoreName the key of its scores in each sample; ScorerParams its
	// parameters.
	Scorer       string
	ScoreName    string
	ScorerParams map[string]any
	// Reported is the log's accuracy for that scorer, when it reports one.
	Reported *float64
	// Generation is the generation config the lab's run used.
	Generation runner.Generation
	// Samples are the samples the re-run can draw from, sorted by id
	// then epoch.
	Samples []*LabSample
	// Skipped counts samples left out (errored, unscored, or not
	// reproducible: non-text content, tool use); SkipReasons the first
	// few reasons.
	Skipped     int
	SkipReasons []string
}

// LabSample is one sample of a lab's log.
type LabSample struct {
	runner.Sample
	// Messages is the conversation the lab's model was sent: the logged
	// messages before the first assistant message.
	Messages []runner.Message
	// Value is the lab's score value; Answer its extracted answer.
	Value  any
	Answer string
}

// Score is the lab's score as a number (runner.ValueToFloat).
func (s *LabSample) Score() float64 { return runner.ValueToFloat(s.Value) }

type rawLog struct {
	Eval struct {
		Task                string          `json:"task"`
		TaskVersion         json.RawMessage `json:"task_version"`
		Model               string          `json:"model"`
		ModelGenerateConfig *rawGenConfig   `json:"model_generate_config"`
	} `json:"eval"`
	Status string `json:"status"`
	Plan   struct {
		Config *rawGenConfig `json:"config"`
	} `json:"plan"`
	Results *struct {
		Scores []struct {
			Name    string         `json:"name"`
			Scorer  string         `json:"scorer"`
			Params  map[string]any `json:"params"`
			Metrics map[string]struct {
				Value *float64 `json:"value"`
			} `json:"metrics"`
		} `json:"scores"`
	} `json:"results"`
}

type rawGenConfig struct {
	Temperature *float64 `json:"temperature"`
	TopP        *float64 `json:"top_p"`
	MaxTokens   *int64   `json:"max_tokens"`
	Seed        *int64   `json:"seed"`
	StopSeqs    []string `json:"stop_seqs"`
}

type rawScore struct {
	Value  any `json:"value"`
	Answer any `json:"answer"`
}

type rawSample struct {
	ID       runner.SampleID     `json:"id"`
	Epoch    int                 `json:"epoch"`
	Input    json.RawMessage     `json:"input"`
	Choices  []string            `json:"choices"`
	Target   json.RawMessage     `json:"target"`
	Messages []json.RawMessage   `json:"messages"`
	Scores   map[string]rawScore `json:"scores"`
	Metadata map[string]any      `json:"metadata"`
	Error    json.RawMessage     `json:"error"`
}

// ReadLog reads an Inspect log with its samples: a .json log (streamed:
// samples are decoded one at a time) or an .eval archive (header.json and
// samples/*.json; stored, deflated or Zstandard entries). The format is
// detected from the content. scoreName selects which of the log's scores
// is audited (default: the first).
func ReadLog(path, scoreName string) (*LabLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	if !st.Mode().IsRegular() || st.Size() > MaxLogSize {
		return nil, fmt.Errorf("%w: %s: not a regular file of at most %d bytes", ErrBadLog, path, int64(MaxLogSize))
	}
	l := &LabLog{File: path}
	var head [4]byte
	n, _ := io.ReadFull(f, head[:])
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadLog, path, err)
	}
	l.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	var samples []rawSample
	var raw rawLog
	if n == 4 && (string(head[:]) == "PK\x03\x04" || string(head[:]) == "PK\x05\x06") {
		l.Format = "inspect-eval"
		samples, err = readEval(f, st.Size(), &raw)
	} else {
		l.Format = "inspect-json"
		samples, err = readJSON(bufio.NewReaderSize(f, 256<<10), &raw)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadLog, path, err)
	}
	if err := l.fill(&raw, samples, scoreName); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadLog, path, err)
	}
	return l, nil
}

// readJSON streams a .json log: the header members are decoded whole, the
// samples one at a time.
func readJSON(r io.Reader, raw *rawLog) ([]rawSample, error) {
	dec := json.NewDecoder(newNaNReader(r))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not an Inspect log (want a JSON object)")
	}
	var samples []rawSample
	seen := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		switch key {
		case "eval":
			err = dec.Decode(&raw.Eval)
			seen = true
		case "status":
			err = dec.Decode(&raw.Status)
		case "plan":
			err = dec.Decode(&raw.Plan)
		case "results":
			err = dec.Decode(&raw.Results)
		case "samples":
			samples, err = decodeSamples(dec)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	if !seen {
		return nil, errors.New("not an Inspect log (no \"eval\")")
	}
	return samples, nil
}

func decodeSamples(dec *json.Decoder) ([]rawSample, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, nil
	}
	if t != json.Delim('[') {
		return nil, errors.New("want a list")
	}
	var out []rawSample
	for dec.More() {
		var s rawSample
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("[%d]: %w", len(out), err)
		}
		out = append(out, s)
	}
	_, err = dec.Token()
	return out, err
}

// zipMethodZstd is the zip method Inspect uses for Zstandard entries.
const zipMethodZstd = 93

// readEval reads an .eval archive.
func readEval(r io.ReaderAt, size int64, raw *rawLog) ([]rawSample, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	zr.RegisterDecompressor(zipMethodZstd, func(r io.Reader) io.ReadCloser {
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return d.IOReadCloser()
	})
	entries := map[string]*zip.File{}
	for _, f := range zr.File {
		entries[f.Name] = f // the last entry of a name wins, as in Inspect
	}
	hf := entries["header.json"]
	if hf == nil {
		if entries["_journal/start.json"] != nil {
			return nil, errors.New("the run has not finished (no header.json)")
		}
		return nil, errors.New("not an Inspect .eval log (no header.json)")
	}
	if err := decodeEntry(hf, raw); err != nil {
		return nil, fmt.Errorf("header.json: %w", err)
	}
	var samples []rawSample
	for name, f := range entries {
		if !strings.HasPrefix(name, "samples/") || !strings.HasSuffix(name, ".json") {
			continue
		}
		var s rawSample
		if err := decodeEntry(f, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		samples = append(samples, s)
	}
	return samples, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func decodeEntry(f *zip.File, v any) error {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(newNaNReader(rc))
	return dec.Decode(v)
}

// fill derives the log's audit view from its raw parts.
func (l *LabLog) fill(raw *rawLog, samples []rawSample, scoreName string) error {
	l.Task, l.Model, l.Status = raw.Eval.Task, raw.Eval.Model, raw.Status
	l.TaskVersion = strings.Trim(string(bytes.TrimSpace(raw.Eval.TaskVersion)), `"`)
	gc := raw.Eval.ModelGenerateConfig
	if gc == nil || (gc.Temperature == nil && gc.TopP == nil && gc.MaxTokens == nil && gc.Seed == nil && len(gc.StopSeqs) == 0) {
		gc = raw.Plan.Config
	}
	if gc != nil {
		l.Generation = runner.Generation{Temperature: gc.Temperature, TopP: gc.TopP, MaxTokens: gc.MaxTokens, Seed: gc.Seed, Stop: gc.StopSeqs}
	}
	if raw.Results == nil || len(raw.Results.Scores) == 0 {
		return errors.New("the log has no scores (results.scores)")
	}
	sc := raw.Results.Scores[0]
	if scoreName != "" {
		found := false
		var names []string
		for _, s := range raw.Results.Scores {
			names = append(names, s.Name)
			if s.Name == scoreName {
				sc, found = s, true
			}
		}
		if !found {
			return fmt.Errorf("no score named %q (the log has %s)", scoreName, strings.Join(names, ", "))
		}
	}
	l.ScoreName, l.ScorerParams = sc.Name, sc.Params
	l.Scorer = sc.Scorer
	if i := strings.LastIndexByte(l.Scorer, '/'); i >= 0 {
		l.Scorer = l.Scorer[i+1:]
	}
	if l.Scorer == "" {
		l.Scorer = sc.Name
	}
	if m, ok := sc.Metrics["accuracy"]; ok && m.Value != nil {
		v := *m.Value
		l.Reported = &v
	}
	if len(samples) == 0 {
		return errors.New("the log carries no samples (Inspect writes them unless run with --no-log-samples)")
	}
	seen := map[string]bool{}
	for i := range samples {
		s, reason := l.labSample(&samples[i])
		if s == nil {
			l.Skipped++
			if len(l.SkipReasons) < 5 {
				l.SkipReasons = append(l.SkipReasons, reason)
			}
			continue
		}
		if seen[s.Key()] {
			return fmt.Errorf("sample %s epoch %d appears twice", s.ID, s.Epoch)
		}
		seen[s.Key()] = true
		l.Samples = append(l.Samples, s)
	}
	sortSamples(l.Samples)
	return nil
}

// labSample converts a logged sample, or says why it cannot be re-run.
func (l *LabLog) labSample(r *rawSample) (*LabSample, string) {
	id := fmt.Sprintf("sample %s epoch %d", r.ID, r.Epoch)
	if len(r.Error) > 0 && string(r.Error) != "null" {
		return nil, id + ": errored in the lab's run"
	}
	sc, ok := r.Scores[l.ScoreName]
	if !ok {
		return nil, id + ": not scored by " + l.ScoreName
	}
	switch sc.Value.(type) {
	case string, float64, bool:
	default:
		return nil, id + ": score value is not a single value"
	}
	input, err := runner.ParseInput(r.Input)
	if err != nil {
		return nil, id + ": " + err.Error()
	}
	target, list, err := runner.ParseTarget(r.Target)
	if err != nil {
		return nil, id + ": " + err.Error()
	}
	var msgs []runner.Message
	for _, raw := range r.Messages {
		var role struct {
			Role string `json:"role"`
		}
		if err := json.Unmarshal(raw, &role); err != nil {
			return nil, id + ": " + err.Error()
		}
		if role.Role == "assistant" {
			break
		}
		if role.Role != "system" && role.Role != "user" {
			return nil, id + ": role " + role.Role + " before the model's answer"
		}
		var m runner.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, id + ": " + err.Error()
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		msgs = input
	}
	if len(msgs) == 0 {
		return nil, id + ": no input messages"
	}
	epoch := r.Epoch
	if epoch == 0 {
		epoch = 1
	}
	s := &LabSample{
		Sample: runner.Sample{ID: r.ID, Epoch: epoch, Input: input, RawInput: r.Input, Choices: r.Choices,
			Target: target, TargetList: list, Metadata: r.Metadata},
		Messages: msgs, Value: sc.Value,
	}
	if a, ok := sc.Answer.(string); ok {
		s.Answer = a
	}
	return s, ""
}

// Base is the log file's base name.
func (l *LabLog) Base() string { return filepath.Base(l.File) }
