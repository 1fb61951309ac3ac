package evallog

import (
	"archive/zip"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// Zip entry names of an Inspect .eval archive.
const (
	evalHeaderEntry  = "header.json"
	evalJournalStart = "_journal/start.json"
)

// zipMethodZstd is the zip compression method for Zstandard (APPNOTE
// 6.3.7+), which Inspect writes by default since 0.3.206.
const zipMethodZstd = 93

// maxZstdWindow caps the decoder window a zstd frame may request (128 MiB,
// the zstd CLI's default limit); Inspect's frames use far smaller windows.
const maxZstdWindow = 128 << 20

// parseEval reads an Inspect .eval zip archive: only header.json (or, for
// a run that has not finished, _journal/start.json) is decompressed; the
// sample entries are never opened. The whole file is hashed in one
// sequential pass.
func parseEval(r io.ReaderAt, size int64, lim Limits) (*Log, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, err
	}
	zr.RegisterDecompressor(zipMethodZstd, zstdDecompressor)
	// Inspect appends superseding copies of rewritten entries; as on its
	// read path, the last entry of a name wins.
	var header, start *zip.File
	for _, f := range zr.File {
		switch f.Name {
		case evalHeaderEntry:
			header = f
		case evalJournalStart:
			start = f
		}
	}
	var log *Log
	switch {
	case header != nil:
		log, err = parseEvalEntry(header, lim)
	case start != nil:
		// Started but not finished (still running, or crashed): the journal
		// names the task and model; there are no results yet.
		log, err = parseEvalEntry(start, lim)
		if err == nil {
			log.Status = StatusStarted
		}
	default:
		return nil, &detailError{kind: ErrUnknownFormat, msg: "zip archive is not an inspect .eval log: no header.json or _journal/start.json"}
	}
	if err != nil {
		return nil, err
	}
	h := newHash()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(r, 0, size), make([]byte, 1<<20)); err != nil {
		return nil, fmt.Errorf("reading for sha256: %w", err)
	}
	log.SHA256 = digest(h)
	return log, nil
}

func zstdDecompressor(r io.Reader) io.ReadCloser {
	d, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
	if err != nil {
		return errReadCloser{err}
	}
	return d.IOReadCloser()
}

type errReadCloser struct{ err error }

func (e errReadCloser) Read([]byte) (int, error) { return 0, e.err }
func (e errReadCloser) Close() error             { return nil }

// parseEvalEntry streams one JSON entry of the archive through the
// scanner, bounded by MaxEntryBytes of decompressed data.
func parseEvalEntry(f *zip.File, lim Limits) (*Log, error) {
	log, err := func() (*Log, error) {
		if f.UncompressedSize64 > uint64(lim.MaxEntryBytes) {
			return nil, &detailError{kind: ErrLimit, msg: fmt.Sprintf("declared decompressed size %d bytes is over the %d byte limit", f.UncompressedSize64, lim.MaxEntryBytes)}
		}
		switch f.Method {
		case zip.Store, zip.Deflate, zipMethodZstd:
		default:
			return nil, &detailError{kind: ErrInvalid, msg: fmt.Sprintf("unsupported zip compression method %d", f.Method)}
		}
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		br := &boundedReader{r: rc, left: lim.MaxEntryBytes, limit: lim.MaxEntryBytes}
		top, err := scanTop(newStreamScanner(br, lim.MaxDepth, lim.MaxEntryBytes))
		if err != nil {
			return nil, err
		}
		if !top.keys["eval"] {
			return nil, &detailError{kind: ErrInvalid, msg: "not an inspect log header: no \"eval\""}
		}
		return buildInspect(top)
	}()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	return log, nil
}

// boundedReader fails once more than limit bytes would be read.
type boundedReader struct {
	r           io.Reader
	left, limit int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, &detailError{kind: ErrLimit, msg: fmt.Sprintf("decompressed size exceeds the %d byte limit", b.limit)}
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// inspectScore is one element of results.scores.
type inspectScore struct {
	name, scorer string
	scored       int
	metrics      []Metric
}

// buildInspect interprets the kept members of an Inspect EvalLog (a .json
// log, header.json, or _journal/start.json). It accepts log versions 1 and
// 2 and both the old (metric "options", results.sample_reductions,
// results.scorer/metrics) and new (metric "params", top-level reductions,
// results.scores) layouts.
func buildInspect(top *topLevel) (*Log, error) {
	log := &Log{Format: FormatInspect, Status: StatusStarted, Metadata: map[string]string{}}
	task := Task{Version: "0", TotalSamples: -1, CompletedSamples: -1, Samples: -1, DatasetSamples: -1}

	if sec, ok := top.sections["version"]; ok {
		v, err := top.scan(sec).value()
		if err != nil {
			return nil, err
		}
		if v.kind != kindNumber {
			return nil, typeErr("version", "an integer", v.kind)
		}
		if v.text != "1" && v.text != "2" {
			return nil, invalidf("version: unsupported inspect log version %s (supported: 1, 2)", v.text)
		}
	}
	if sec, ok := top.sections["status"]; ok {
		st, err := top.scan(sec).str("status")
		if err != nil {
			return nil, err
		}
		switch st {
		case StatusStarted, StatusSuccess, StatusCancelled, StatusError:
		default:
			return nil, invalidf("status: unknown status %q", st)
		}
		log.Status = st
	}

	sec, ok := top.sections["eval"]
	if !ok {
		return nil, invalidf("missing \"eval\"")
	}
	evalMeta := map[string]string{}
	var haveTask, haveModel bool
	s := top.scan(sec)
	err := s.object(func(key string) error {
		p := child("eval", key)
		var err error
		switch key {
		case "task":
			task.Name, err = s.str(p)
			haveTask = true
		case "task_version":
			task.Version, err = s.version(p)
		case "model":
			log.Model, err = s.str(p)
			haveModel = true
		case "created":
			log.Created, err = s.optStr(p)
		case "dataset":
			if null, err := s.isNull(); null || err != nil {
				return err
			}
			return s.object(func(k string) error {
				if k != "samples" {
					return s.skip()
				}
				var err error
				task.DatasetSamples, err = s.count(child(p, k))
				return err
			})
		case "packages":
			if null, err := s.isNull(); null || err != nil {
				return err
			}
			return s.object(func(k string) error {
				if k != "inspect_ai" {
					return s.skip()
				}
				var err error
				log.HarnessVersion, err = s.optStr(child(p, k))
				return err
			})
		case "metadata":
			if null, err := s.isNull(); null || err != nil {
				return err
			}
			clear(evalMeta)
			return s.stringMap(evalMeta)
		default:
			return s.skip()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !haveTask || !haveModel {
		return nil, invalidf("eval: missing \"task\" or \"model\"")
	}

	// The top-level "metadata" holds the current values (eval-time plus
	// post-run edits); logs written before it existed only have
	// eval.metadata.
	log.Metadata = evalMeta
	if sec, ok := top.sections["metadata"]; ok {
		s := top.scan(sec)
		null, err := s.isNull()
		if err != nil {
			return nil, err
		}
		if !null {
			current := map[string]string{}
			if err := s.stringMap(current); err != nil {
				return nil, err
			}
			log.Metadata = current
		}
	}
	if sec, ok := top.sections["invalidated"]; ok {
		if task.Invalidated, err = top.scan(sec).boolean("invalidated"); err != nil {
			return nil, err
		}
	}
	if sec, ok := top.sections["error"]; ok {
		s := top.scan(sec)
		null, err := s.isNull()
		if err != nil {
			return nil, err
		}
		if !null {
			err = s.object(func(k string) error {
				if k != "message" {
					return s.skip()
				}
				msg, err := s.optStr("error.message")
				log.RunError = firstLine(msg)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}

	if top.resultsObject {
		if err := inspectResults(top, &task); err != nil {
			return nil, err
		}
	} else if sec, ok := top.sections["results"]; ok {
		if null, err := top.scan(sec).isNull(); err != nil || !null {
			if err == nil {
				err = invalidf("results: expected an object or null")
			}
			return nil, err
		}
	}
	log.Tasks = []Task{task}
	return log, nil
}

func inspectResults(top *topLevel, task *Task) error {
	var scores []inspectScore
	var v1Scorer string
	var v1Metrics []Metric
	var haveV1Metrics bool
	for _, m := range top.results {
		s := top.scan(m.section)
		p := child("results", m.key)
		var err error
		switch m.key {
		case "total_samples":
			task.TotalSamples, err = s.count(p)
		case "completed_samples":
			task.CompletedSamples, err = s.count(p)
		case "scores":
			scores = nil
			err = s.array(func(i int) error {
				sc, err := inspectScoreAt(s, elem(p, i))
				scores = append(scores, sc)
				return err
			})
		case "scorer": // version 1: a single scorer {name, params}
			v1Scorer = ""
			var null bool
			if null, err = s.isNull(); err == nil && !null {
				err = s.object(func(k string) error {
					if k != "name" {
						return s.skip()
					}
					var err error
					v1Scorer, err = s.str(child(p, k))
					return err
				})
			}
		case "metrics": // version 1: the single scorer's metrics
			v1Metrics, err = inspectMetrics(s, p)
			haveV1Metrics = true
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
	if scores == nil && (v1Scorer != "" || haveV1Metrics) {
		scores = []inspectScore{{name: v1Scorer, scorer: v1Scorer, scored: -1, metrics: v1Metrics}}
	}
	task.Samples = -1
	for _, sc := range scores {
		if sc.scored >= 0 && (task.Samples < 0 || sc.scored < task.Samples) {
			task.Samples = sc.scored
		}
		var stderr *float64
		for _, m := range sc.metrics {
			if m.Name == "stderr" {
				v := m.Value
				stderr = &v
			}
		}
		for _, m := range sc.metrics {
			m.Scorer, m.scorerFunc = sc.name, sc.scorer
			if stderr != nil && (m.Name == "accuracy" || m.Name == "mean") {
				v := *stderr
				m.Stderr = &v
			}
			task.Metrics = append(task.Metrics, m)
		}
	}
	if task.Samples < 0 {
		task.Samples = task.CompletedSamples
	}
	return nil
}

func inspectScoreAt(s *scanner, path string) (inspectScore, error) {
	sc := inspectScore{scored: -1}
	err := s.object(func(key string) error {
		p := child(path, key)
		var err error
		switch key {
		case "name":
			sc.name, err = s.str(p)
		case "scorer":
			sc.scorer, err = s.str(p)
		case "scored_samples":
			sc.scored, err = s.count(p)
		case "metrics":
			sc.metrics, err = inspectMetrics(s, p)
		default:
			err = s.skip()
		}
		return err
	})
	if err != nil {
		return sc, err
	}
	if sc.name == "" {
		sc.name = sc.scorer
	}
	if sc.name == "" {
		return sc, invalidf("%s: score has no name", path)
	}
	return sc, nil
}

// inspectMetrics reads a metrics object: key → EvalMetric {name, value,
// params|options, metadata} (a bare number is accepted too). The key is
// the metric's short name.
func inspectMetrics(s *scanner, path string) ([]Metric, error) {
	var out []Metric
	index := map[string]int{}
	if null, err := s.isNull(); null || err != nil {
		return nil, err
	}
	err := s.object(func(key string) error {
		p := child(path, key)
		c, err := s.peek()
		if err != nil {
			return s.endErr(err, "expecting a value")
		}
		var val float64
		if c == '{' {
			found := false
			err = s.object(func(k string) error {
				if k != "value" {
					return s.skip()
				}
				found = true
				var err error
				val, err = s.finite(child(p, k))
				return err
			})
			if err == nil && !found {
				err = invalidf("%s: metric has no value", p)
			}
		} else {
			val, err = s.finite(p)
		}
		if err != nil {
			return err
		}
		m := Metric{Name: key, Value: val}
		if i, ok := index[key]; ok {
			out[i] = m
		} else {
			index[key] = len(out)
			out = append(out, m)
		}
		return nil
	})
	return out, err
}

// firstLine returns the first non-empty line of s, at most 200 bytes.
func firstLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			if len(line) > 200 {
				line = strings.ToValidUTF8(line[:200], "") + "…"
			}
			return line
		}
	}
	return ""
}
