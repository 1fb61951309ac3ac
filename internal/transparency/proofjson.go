package transparency

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// MaxProofJSONSize bounds the size of a proof document accepted by the
// parsers. The longest possible proof (126 hashes) is about 6 KiB.
const MaxProofJSONSize = 16 << 10

// InclusionJSON is the wire form of an inclusion proof:
// {"index":N,"size":S,"hashes":["<base64>",...]}.
type InclusionJSON struct {
	Index  int64
	Size   int64
	Hashes []tlog.Hash
}

// ConsistencyJSON is the wire form of a consistency proof:
// {"old":A,"new":B,"hashes":["<base64>",...]}.
type ConsistencyJSON struct {
	Old    int64
	New    int64
	Hashes []tlog.Hash
}

// NewInclusionJSON returns the wire form of proof p for entry index in the
// tree of the given size.
func NewInclusionJSON(index, size int64, p tlog.RecordProof) InclusionJSON {
	return InclusionJSON{Index: index, Size: size, Hashes: append([]tlog.Hash{}, p...)}
}

// NewConsistencyJSON returns the wire form of proof p from tree size old to new.
func NewConsistencyJSON(old, new int64, p tlog.TreeProof) ConsistencyJSON {
	return ConsistencyJSON{Old: old, New: new, Hashes: append([]tlog.Hash{}, p...)}
}

// Proof returns the hashes as a tlog.RecordProof.
func (p InclusionJSON) Proof() tlog.RecordProof { return tlog.RecordProof(p.Hashes) }

// Proof returns the hashes as a tlog.TreeProof.
func (p ConsistencyJSON) Proof() tlog.TreeProof { return tlog.TreeProof(p.Hashes) }

// check validates the sizes and the proof length.
func (p InclusionJSON) check() error {
	if p.Index < 0 || p.Size <= 0 || p.Index >= p.Size {
		return fmt.Errorf("inclusion proof: index %d is not inside a tree of size %d", p.Index, p.Size)
	}
	if want := inclusionProofLen(p.Index, p.Size); len(p.Hashes) != want {
		return fmt.Errorf("inclusion proof: %d hashes, want %d for index %d in size %d", len(p.Hashes), want, p.Index, p.Size)
	}
	return nil
}

func (p ConsistencyJSON) check() error {
	if p.Old < 0 || p.New < p.Old {
		return fmt.Errorf("consistency proof: sizes %d to %d are not increasing", p.Old, p.New)
	}
	if want := consistencyProofLen(p.Old, p.New); len(p.Hashes) != want {
		return fmt.Errorf("consistency proof: %d hashes, want %d from size %d to %d", len(p.Hashes), want, p.Old, p.New)
	}
	return nil
}

func appendHashes(b []byte, hs []tlog.Hash) []byte {
	b = append(b, `"hashes":[`...)
	for i, h := range hs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// MarshalJSON writes the exact wire form. It fails if the proof length does
// not fit the index and size.
func (p InclusionJSON) MarshalJSON() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	b := []byte(`{"index":`)
	b = strconv.AppendInt(b, p.Index, 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, p.Size, 10)
	b = append(b, ',')
	return appendHashes(b, p.Hashes), nil
}

// MarshalJSON writes the exact wire form. It fails if the proof length does
// not fit the sizes.
func (p ConsistencyJSON) MarshalJSON() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	b := []byte(`{"old":`)
	b = strconv.AppendInt(b, p.Old, 10)
	b = append(b, `,"new":`...)
	b = strconv.AppendInt(b, p.New, 10)
	b = append(b, ',')
	return appendHashes(b, p.Hashes), nil
}

// UnmarshalJSON parses strictly, as ParseInclusionJSON.
func (p *InclusionJSON) UnmarshalJSON(data []byte) error {
	q, err := ParseInclusionJSON(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// UnmarshalJSON parses strictly, as ParseConsistencyJSON.
func (p *ConsistencyJSON) UnmarshalJSON(data []byte) error {
	q, err := ParseConsistencyJSON(data)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// ParseInclusionJSON parses an inclusion proof document strictly: exactly
// the keys index, size and hashes, each once; integers in plain decimal;
// hashes in padded standard base64; the RFC 6962 proof length for index and
// size; nothing after the object but white space.
func ParseInclusionJSON(data []byte) (InclusionJSON, error) {
	var p InclusionJSON
	m, err := strictObject(data, "index", "size", "hashes")
	if err != nil {
		return p, fmt.Errorf("inclusion proof: %w", err)
	}
	if p.Index, err = jsonInt(m["index"]); err != nil {
		return p, fmt.Errorf("inclusion proof: index: %w", err)
	}
	if p.Size, err = jsonInt(m["size"]); err != nil {
		return p, fmt.Errorf("inclusion proof: size: %w", err)
	}
	if p.Hashes, err = jsonHashes(m["hashes"]); err != nil {
		return p, fmt.Errorf("inclusion proof: hashes: %w", err)
	}
	if err := p.check(); err != nil {
		return InclusionJSON{}, err
	}
	return p, nil
}

// ParseConsistencyJSON parses a consistency proof document strictly, like
// ParseInclusionJSON, with the keys old, new and hashes.
func ParseConsistencyJSON(data []byte) (ConsistencyJSON, error) {
	var p ConsistencyJSON
	m, err := strictObject(data, "old", "new", "hashes")
	if err != nil {
		return p, fmt.Errorf("consistency proof: %w", err)
	}
	if p.Old, err = jsonInt(m["old"]); err != nil {
		return p, fmt.Errorf("consistency proof: old: %w", err)
	}
	if p.New, err = jsonInt(m["new"]); err != nil {
		return p, fmt.Errorf("consistency proof: new: %w", err)
	}
	if p.Hashes, err = jsonHashes(m["hashes"]); err != nil {
		return p, fmt.Errorf("consistency proof: hashes: %w", err)
	}
	if err := p.check(); err != nil {
		return ConsistencyJSON{}, err
	}
	return p, nil
}

// strictObject decodes a single JSON object with exactly the given keys,
// each present once, and returns their raw values.
func strictObject(data []byte, keys ...string) (map[string]json.RawMessage, error) {
	if len(data) > MaxProofJSONSize {
		return nil, fmt.Errorf("document is %d bytes, larger than the %d byte limit", len(data), MaxProofJSONSize)
	}
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	m := make(map[string]json.RawMessage, len(keys))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		if !want[k] {
			return nil, fmt.Errorf("unknown key %q", k)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate key %q", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil { // closing '}'
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("missing key %q", k)
		}
	}
	return m, nil
}

// jsonInt parses a raw JSON value that must be a non-negative integer
// without fraction or exponent.
func jsonInt(raw json.RawMessage) (int64, error) {
	return parseDecimal(string(raw))
}

// jsonHashes parses a raw JSON array of base64 hash strings.
func jsonHashes(raw json.RawMessage) ([]tlog.Hash, error) {
	var elems []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' {
		return nil, errors.New("not an array")
	}
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	hs := make([]tlog.Hash, len(elems))
	for i, e := range elems {
		if len(e) < 2 || e[0] != '"' || e[len(e)-1] != '"' {
			return nil, fmt.Errorf("element %d is not a string", i)
		}
		h, err := parseHash(string(e[1 : len(e)-1]))
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		hs[i] = h
	}
	return hs, nil
}
