package service

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
)

// A compact binary encoding of decoded evidence for snapshots: decoding
// it is an order of magnitude faster than decoding the records' JSON.
// Every field of every record is kept (records' signing envelopes aside,
// which the gate never reads), so the gate sees exactly what decoding the
// records gives; Verify checks that it does.

type enc struct{ b []byte }

func (e *enc) u64(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) i64(v int64)  { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) f64(v float64) {
	e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(v))
}
func (e *enc) str(s string) { e.u64(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *enc) at(t time.Time) { e.i64(t.Unix()); e.i64(int64(t.Nanosecond())) }
func (e *enc) meta(m evidence.Meta) {
	e.i64(m.Seq)
	e.str(m.RecordedBy)
	e.str(m.SignedBy)
}

var errCodec = errors.New("malformed evidence encoding")

type dec struct {
	b   []byte
	err error
}

func (d *dec) u64() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}
func (d *dec) i64() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}
func (d *dec) f64() float64 {
	if len(d.b) < 8 {
		d.fail()
		return 0
	}
	v := math.Float64frombits(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}
func (d *dec) str() string {
	n := d.u64()
	if uint64(len(d.b)) < n {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
func (d *dec) flag() bool {
	if len(d.b) < 1 || d.b[0] > 1 {
		d.fail()
		return false
	}
	v := d.b[0] == 1
	d.b = d.b[1:]
	return v
}
func (d *dec) at() time.Time {
	sec, nsec := d.i64(), d.i64()
	if nsec < 0 || nsec >= 1e9 {
		d.fail()
	}
	return time.Unix(sec, nsec).UTC()
}
func (d *dec) meta() evidence.Meta {
	return evidence.Meta{Seq: d.i64(), RecordedBy: d.str(), SignedBy: d.str()}
}
func (d *dec) fail() {
	if d.err == nil {
		d.err = errCodec
	}
	d.b = nil
}
func (d *dec) count() int {
	n := d.u64()
	if n > uint64(len(d.b)) { // every record takes at least a byte
		d.fail()
		return 0
	}
	return int(n)
}

func encodeEvidence(ev gate.Evidence) []byte {
	e := &enc{}
	e.u64(uint64(len(ev.Checkpoints)))
	for _, x := range ev.Checkpoints {
		e.str(x.ID)
		e.str(x.Model)
		e.f64(x.EffectiveCompute)
		e.at(x.At)
		e.meta(x.Meta)
	}
	e.u64(uint64(len(ev.Results)))
	for _, x := range ev.Results {
		e.str(x.Checkpoint)
		e.str(x.Evaluation)
		e.f64(x.Score)
		e.flag(x.Stderr != nil)
		if x.Stderr != nil {
			e.f64(*x.Stderr)
		}
		e.str(x.Elicitation)
		e.i64(x.Samples)
		e.at(x.At)
		e.flag(x.Incomplete)
		e.flag(x.Confidential)
		e.flag(x.Source != nil)
		if s := x.Source; s != nil {
			for _, v := range []string{s.Format, s.File, s.Digest, s.Task, s.TaskVersion, s.Scorer, s.Metric, s.LogModel} {
				e.str(v)
			}
		}
		e.meta(x.Meta)
	}
	e.u64(uint64(len(ev.Safeguards)))
	for _, x := range ev.Safeguards {
		for _, v := range []string{x.Safeguard, x.Model, x.Status, x.By, x.Note} {
			e.str(v)
		}
		e.at(x.At)
		e.flag(x.Confidential)
		e.meta(x.Meta)
	}
	e.u64(uint64(len(ev.Determinations)))
	for _, x := range ev.Determinations {
		for _, v := range []string{x.Checkpoint, x.Threshold, x.By, x.Rationale} {
			e.str(v)
		}
		e.flag(x.Crossed)
		e.at(x.At)
		e.flag(x.Confidential)
		e.meta(x.Meta)
	}
	e.u64(uint64(len(ev.SafetyCases)))
	for _, x := range ev.SafetyCases {
		for _, v := range []string{x.ID, x.Model, x.ApprovedBy, x.Summary} {
			e.str(v)
		}
		e.f64(x.CoversCompute)
		e.at(x.At)
		e.flag(x.Confidential)
		e.meta(x.Meta)
	}
	e.u64(uint64(len(ev.Escapes)))
	for _, x := range ev.Escapes {
		for _, v := range []string{x.Model, x.By, x.Rationale} {
			e.str(v)
		}
		e.at(x.At)
		e.meta(x.Meta)
	}
	return e.b
}

func decodeEvidenceBinary(m evidence.Model, b []byte) (gate.Evidence, error) {
	d := &dec{b: b}
	ev := gate.Evidence{Model: m}
	if n := d.count(); n > 0 {
		ev.Checkpoints = make([]evidence.Checkpoint, n)
		for i := range ev.Checkpoints {
			x := &ev.Checkpoints[i]
			x.ID, x.Model, x.EffectiveCompute, x.At, x.Meta = d.str(), d.str(), d.f64(), d.at(), d.meta()
		}
	}
	if n := d.count(); n > 0 {
		ev.Results = make([]evidence.Result, n)
		for i := range ev.Results {
			x := &ev.Results[i]
			x.Checkpoint, x.Evaluation, x.Score = d.str(), d.str(), d.f64()
			if d.flag() {
				v := d.f64()
				x.Stderr = &v
			}
			x.Elicitation, x.Samples, x.At = d.str(), d.i64(), d.at()
			x.Incomplete, x.Confidential = d.flag(), d.flag()
			if d.flag() {
				x.Source = &evidence.Source{Format: d.str(), File: d.str(), Digest: d.str(), Task: d.str(), TaskVersion: d.str(), Scorer: d.str(), Metric: d.str(), LogModel: d.str()}
			}
			x.Meta = d.meta()
		}
	}
	if n := d.count(); n > 0 {
		ev.Safeguards = make([]evidence.SafeguardStatus, n)
		for i := range ev.Safeguards {
			x := &ev.Safeguards[i]
			x.Safeguard, x.Model, x.Status, x.By, x.Note = d.str(), d.str(), d.str(), d.str(), d.str()
			x.At, x.Confidential, x.Meta = d.at(), d.flag(), d.meta()
		}
	}
	if n := d.count(); n > 0 {
		ev.Determinations = make([]evidence.Determination, n)
		for i := range ev.Determinations {
			x := &ev.Determinations[i]
			x.Checkpoint, x.Threshold, x.By, x.Rationale = d.str(), d.str(), d.str(), d.str()
			x.Crossed, x.At, x.Confidential, x.Meta = d.flag(), d.at(), d.flag(), d.meta()
		}
	}
	if n := d.count(); n > 0 {
		ev.SafetyCases = make([]evidence.SafetyCase, n)
		for i := range ev.SafetyCases {
			x := &ev.SafetyCases[i]
			x.ID, x.Model, x.ApprovedBy, x.Summary = d.str(), d.str(), d.str(), d.str()
			x.CoversCompute, x.At, x.Confidential, x.Meta = d.f64(), d.at(), d.flag(), d.meta()
		}
	}
	if n := d.count(); n > 0 {
		ev.Escapes = make([]evidence.Escape, n)
		for i := range ev.Escapes {
			x := &ev.Escapes[i]
			x.Model, x.By, x.Rationale, x.At, x.Meta = d.str(), d.str(), d.str(), d.at(), d.meta()
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCodec
	}
	return ev, d.err
}
