package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// StateVersion is the version of the state file format.
const StateVersion = 1

// Header is the first line of a state file: what the run is.
type Header struct {
	Type    string `json:"type"` // "run"
	V       int    `json:"v"`
	RunID   string `json:"runId"`
	Kind    string `json:"kind"` // "eval" or "audit-rerun"
	Name    string `json:"name"` // suite name, or the audited log's task
	Digest  string `json:"digest"`
	Model   string `json:"model"`
	Scorer  string `json:"scorer"`
	Subject string `json:"subject,omitempty"` // the checkpoint evaluated
	// Endpoint is the (redacted) endpoint of the run's first invocation.
	Endpoint string    `json:"endpoint"`
	Created  time.Time `json:"created"`
}

// Outcome is a sample's recorded outcome: the model's output and, once
// scored, its score. A sample whose scorer makes requests is recorded
// twice, once generated (Score nil) and once scored; the last record of a
// sample counts.
type Outcome struct {
	Type         string    `json:"type"` // "sample"
	ID           SampleID  `json:"id"`
	Epoch        int       `json:"epoch"`
	Output       string    `json:"output"`
	FinishReason string    `json:"stopReason,omitempty"`
	Model        string    `json:"model,omitempty"`
	Usage        Usage     `json:"usage"`
	Attempts     int       `json:"attempts"`
	Seconds      float64   `json:"seconds"`
	At           time.Time `json:"at"`
	Score        *Score    `json:"score,omitempty"`
}

// Key is the outcome's sample key (see Sample.Key).
func (o *Outcome) Key() string { return o.ID.Key() + "#" + strconv.Itoa(o.Epoch) }

// RunID derives a run id from what identifies a run: its kind and the
// given parts (digests, model, checkpoint...). A re-run with the same
// parts continues the same run.
func RunID(kind string, parts ...string) string {
	h := sha256.New()
	io.WriteString(h, "scalegate-run/v1\x00"+kind)
	for _, p := range parts {
		io.WriteString(h, "\x00"+p)
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil))[:16]
}

var runIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckRunID checks a run id given by a user (it names a file).
func CheckRunID(id string) error {
	if !runIDRE.MatchString(id) {
		return fmt.Errorf("run id %q: use letters, digits, '.', '_' and '-' (at most 128)", id)
	}
	return nil
}

// State is a run's resume file, <dir>/<run id>.jsonl: the header line,
// then one line per recorded outcome. Appends are batched by one writer
// goroutine (or by Run's event loop, see writeLines): each batch is
// written with one write within BatchInterval and fsynced within
// SyncInterval, so a killed process loses at most the outcomes of its last
// BatchInterval and a power loss those of its last SyncInterval or so (a
// torn last line is discarded when the file is reopened). Close writes and
// fsyncs what is left: what a run reports is on disk.
type State struct {
	Path   string
	Header Header
	// Loaded are the outcomes recorded by earlier invocations, by sample
	// key (the last record of each sample).
	Loaded map[string]*Outcome
	// Discarded is the number of bytes of a torn tail dropped on open.
	Discarded int64

	f *os.File
	// writeRaw, when set, is how writeLines writes to f (see rawWriter).
	writeRaw func([]byte) error
	ch       chan *[]byte
	// kick asks the writer for an fsync (see syncSoon).
	kick chan struct{}
	// dirty is set by a write and cleared when an fsync begins.
	dirty atomic.Bool
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

// OpenState opens (creating) the state file of run h.RunID in dir. An
// existing file must be of the same run: check compares its header with h
// and may refuse it. restart discards an existing file first.
func OpenState(dir string, h Header, restart bool, check func(old Header) error) (*State, error) {
	if err := CheckRunID(h.RunID); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runs directory: %w", err)
	}
	path := filepath.Join(dir, h.RunID+".jsonl")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("run state: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	s := &State{Path: path, Header: h, Loaded: map[string]*Outcome{}, f: f, writeRaw: rawWriter(f)}
	if restart {
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, fmt.Errorf("run state: %w", err)
		}
	}
	if err := s.load(check); err != nil {
		f.Close()
		return nil, err
	}
	s.ch = make(chan *[]byte, 8192)
	s.kick = make(chan struct{}, 1)
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// load reads an existing file, or writes the header of a new one.
func (s *State) load(check func(Header) error) error {
	data, err := io.ReadAll(s.f)
	if err != nil {
		return fmt.Errorf("run state: %w", err)
	}
	if len(data) == 0 {
		if s.Header.Created.IsZero() {
			s.Header.Created = time.Now().UTC()
		}
		s.Header.Type, s.Header.V = "run", StateVersion
		line, err := json.Marshal(s.Header)
		if err != nil {
			return err
		}
		if _, err := s.f.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("run state: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("run state: %w", err)
		}
		syncDir(filepath.Dir(s.Path))
		return nil
	}
	var good int64
	first := true
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break // torn last line
		}
		line := data[off : off+i]
		if first {
			var h Header
			if err := json.Unmarshal(line, &h); err != nil || h.Type != "run" {
				return fmt.Errorf("%s: not a scalegate run file", s.Path)
			}
			if h.V != StateVersion {
				return fmt.Errorf("%s: run file version %d; this scalegate reads version %d", s.Path, h.V, StateVersion)
			}
			if h.RunID != s.Header.RunID {
				return fmt.Errorf("%s: the file is of run %q", s.Path, h.RunID)
			}
			if check != nil {
				if err := check(h); err != nil {
					return fmt.Errorf("%s: %w", s.Path, err)
				}
			}
			s.Header = h
			first = false
		} else {
			var o Outcome
			if err := json.Unmarshal(line, &o); err != nil || o.Type != "sample" {
				break // torn write: drop it and what follows
			}
			s.Loaded[o.Key()] = &o
		}
		off += i + 1
		good = int64(off)
	}
	if first {
		return fmt.Errorf("%s: not a scalegate run file (no header line)", s.Path)
	}
	if good < int64(len(data)) {
		s.Discarded = int64(len(data)) - good
		if err := s.f.Truncate(good); err != nil {
			return fmt.Errorf("run state: %w", err)
		}
		if _, err := s.f.Seek(good, io.SeekStart); err != nil {
			return fmt.Errorf("run state: %w", err)
		}
	}
	return nil
}

// syncDir fsyncs a directory so that a new file's entry is durable (best
// effort: not every platform supports it).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Append records an outcome (asynchronously; see Close). It fails once an
// earlier write has failed.
func (s *State) Append(o *Outcome) error {
	if err := s.Err(); err != nil {
		return err
	}
	lp := linePool.Get().(*[]byte)
	line, err := appendLine((*lp)[:0], o)
	if err != nil {
		linePool.Put(lp)
		return err
	}
	*lp = line
	s.ch <- lp
	return nil
}

// appendLine appends the line that records o (setting its Type); on error
// b is returned as it was.
func appendLine(b []byte, o *Outcome) ([]byte, error) {
	o.Type = "sample"
	line, err := appendOutcome(b, o)
	if err != nil {
		return b, fmt.Errorf("run state: %w", err)
	}
	return append(line, '\n'), nil
}

// writeLines writes lines made by appendLine at once, for a caller that
// batches its outcomes itself and asks for their fsync with syncSoon (Run's
// event loop, which writes within BatchInterval of an outcome and asks
// for an fsync at most every SyncInterval). It fails once an earlier
// write has failed.
func (s *State) writeLines(b []byte) error {
	if err := s.Err(); err != nil {
		return err
	}
	var err error
	if s.writeRaw != nil {
		err = s.writeRaw(b)
	} else {
		_, err = s.f.Write(b)
	}
	if err != nil {
		s.setErr(err)
		return s.Err()
	}
	s.dirty.Store(true)
	return nil
}

// syncSoon makes the writer fsync what has been written.
func (s *State) syncSoon() {
	select {
	case s.kick <- struct{}{}:
	default: // one is asked for already
	}
}

// appendOutcome appends o as JSON, as encoding/json would write it (the
// hot path of a run: reflection costs more than the rest of recording).
func appendOutcome(b []byte, o *Outcome) ([]byte, error) {
	b = append(b, `{"type":"sample","id":`...)
	if o.ID.IsNum {
		b = strconv.AppendInt(b, o.ID.Num, 10)
	} else {
		b = appendJSONString(b, o.ID.Str)
	}
	b = append(b, `,"epoch":`...)
	b = strconv.AppendInt(b, int64(o.Epoch), 10)
	b = append(b, `,"output":`...)
	b = appendJSONString(b, o.Output)
	if o.FinishReason != "" {
		b = append(b, `,"stopReason":`...)
		b = appendJSONString(b, o.FinishReason)
	}
	if o.Model != "" {
		b = append(b, `,"model":`...)
		b = appendJSONString(b, o.Model)
	}
	b = append(b, `,"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, o.Usage.InputTokens, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, o.Usage.OutputTokens, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, o.Usage.TotalTokens, 10)
	b = append(b, `},"attempts":`...)
	b = strconv.AppendInt(b, int64(o.Attempts), 10)
	b = append(b, `,"seconds":`...)
	b = appendJSONFloat(b, o.Seconds)
	b = append(b, `,"at":"`...)
	b = o.At.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	if o.Score != nil {
		b = append(b, `,"score":{"value":`...)
		switch v := o.Score.Value.(type) {
		case string:
			b = appendJSONString(b, v)
		default:
			vb, err := json.Marshal(v)
			if err != nil {
				return nil, err
			}
			b = append(b, vb...)
		}
		if o.Score.Answer != "" {
			b = append(b, `,"answer":`...)
			b = appendJSONString(b, o.Score.Answer)
		}
		if o.Score.Explanation != "" {
			b = append(b, `,"explanation":`...)
			b = appendJSONString(b, o.Score.Explanation)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// appendJSONFloat appends a finite float as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// Err is the first write error, if any.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *State) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = fmt.Errorf("run state %s: %w", s.Path, err)
	}
	s.mu.Unlock()
}

// SyncInterval is the longest a written outcome waits for its fsync;
// BatchInterval the longest an appended outcome waits for its write. A
// write puts the outcome in the file (it survives the process being
// killed); the fsync that makes it survive a power loss follows within
// SyncInterval and covers everything written since the previous one.
// Between batches the writer sleeps, so that appending is a buffered
// channel send that wakes nothing. (An fsync costs far more CPU time than
// a write: grouping those of 20 ms rather than 5 ms makes a run against a
// server that answers at once some 5-10% faster.)
const (
	SyncInterval  = 20 * time.Millisecond
	BatchInterval = time.Millisecond
)

// linePool recycles encoded outcome lines.
var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// writer writes batches (everything queued when it wakes, with one write)
// at most once per BatchInterval, and fsyncs them at most once per
// SyncInterval; it fsyncs what writeLines wrote when syncSoon asks.
func (s *State) writer() {
	defer s.wg.Done()
	var batch []byte
	var lastSync time.Time
	armed := false
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sync := func() {
		if s.dirty.Swap(false) && s.Err() == nil {
			if err := s.f.Sync(); err != nil {
				s.setErr(err)
			}
		}
		lastSync = time.Now()
	}
	take := func(l *[]byte) {
		batch = append(batch, *l...)
		linePool.Put(l)
	}
	for {
		var first *[]byte
		var ok bool
		select {
		case <-timer.C:
			armed = false
			sync()
			continue
		case <-s.kick:
			sync()
			continue
		case first, ok = <-s.ch:
		}
		if !ok {
			sync()
			return
		}
		batch = batch[:0]
		take(first)
		closed := false
	drain:
		for len(batch) < 4<<20 {
			select {
			case l, ok := <-s.ch:
				if !ok {
					closed = true
					break drain
				}
				take(l)
			default:
				break drain
			}
		}
		if s.Err() == nil {
			if _, err := s.f.Write(batch); err != nil {
				s.setErr(err)
			}
			s.dirty.Store(true)
		}
		if closed {
			sync()
			return
		}
		if wait := SyncInterval - time.Since(lastSync); wait <= 0 {
			sync()
		} else if !armed {
			timer.Reset(wait)
			armed = true
		}
		time.Sleep(BatchInterval)
	}
}

// Close writes what is queued, fsyncs, and releases the file.
func (s *State) Close() error {
	if s.ch == nil {
		return s.f.Close()
	}
	close(s.ch)
	s.wg.Wait()
	s.ch = nil
	err := s.Err()
	if cerr := s.f.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
		err = cerr
	}
	return err
}
