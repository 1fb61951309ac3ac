package transparency

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxSignedCheckpointSize bounds the size of a signed checkpoint accepted by
// OpenCheckpoint and related functions. A checkpoint with the 100 signatures
// note.Open allows is far smaller.
const MaxSignedCheckpointSize = 64 << 10

// Checkpoint is a tree head: the log's origin, tree size and root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// DefaultOrigin returns the checkpoint origin (and log key name) used for a
// scalegate log with the given ID: "scalegate.dev/log/<logID>".
func DefaultOrigin(logID string) string {
	return "scalegate.dev/log/" + logID
}

// validName reports whether s is a valid signed-note key name, as required
// of origins: non-empty UTF-8 without Unicode spaces or '+'. Control
// characters are refused as well.
func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.Contains(s, "+") {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

func checkOrigin(origin string) error {
	if !validName(origin) {
		return fmt.Errorf("invalid origin %q: must be non-empty UTF-8 without spaces, control characters or '+'", origin)
	}
	return nil
}

// FormatCheckpoint returns the C2SP tlog-checkpoint body for a tree:
// "<origin>\n<size>\n<base64 root>\n". It does not validate its arguments;
// SignCheckpoint does.
func FormatCheckpoint(origin string, size int64, root tlog.Hash) []byte {
	b := make([]byte, 0, len(origin)+1+20+1+44+1)
	b = append(b, origin...)
	b = append(b, '\n')
	b = strconv.AppendInt(b, size, 10)
	b = append(b, '\n')
	b = base64.StdEncoding.AppendEncode(b, root[:])
	b = append(b, '\n')
	return b
}

// Body returns the checkpoint's note body, FormatCheckpoint(c.Origin, c.Size, c.Root).
func (c Checkpoint) Body() []byte { return FormatCheckpoint(c.Origin, c.Size, c.Root) }

// ParseCheckpoint parses a checkpoint body strictly: exactly the three lines
// written by FormatCheckpoint (extension lines are rejected), a valid origin,
// a decimal size without sign or leading zeros that fits in an int64, and a
// root in padded standard base64 of exactly 32 bytes. A size-0 checkpoint
// must carry the empty tree root.
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return c, errors.New("malformed checkpoint: body must end in a newline")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) != 3 {
		return c, fmt.Errorf("malformed checkpoint: got %d lines, want 3 (origin, size, root; extension lines are not accepted)", len(lines))
	}
	if err := checkOrigin(lines[0]); err != nil {
		return c, fmt.Errorf("malformed checkpoint: %w", err)
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return c, fmt.Errorf("malformed checkpoint: tree size: %w", err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return c, fmt.Errorf("malformed checkpoint: root: %w", err)
	}
	if size == 0 && root != EmptyRoot {
		return c, errors.New("malformed checkpoint: tree size 0 with a root other than the empty tree hash")
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root}, nil
}

// parseDecimal parses a non-negative int64 written in canonical decimal.
func parseDecimal(s string) (int64, error) {
	if s == "" {
		return 0, errors.New("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a non-negative decimal integer", s)
		}
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is out of range", s)
	}
	return n, nil
}

// parseHash parses a hash in padded standard base64, rejecting any other
// spelling of the same bytes.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	if len(s) != 44 || strings.ContainsAny(s, "\r\n") {
		return h, fmt.Errorf("hash %q is not 44 characters of base64", s)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		return h, fmt.Errorf("hash %q is not 32 bytes of padded standard base64", s)
	}
	copy(h[:], b)
	return h, nil
}

// SignCheckpoint validates c and returns it as a signed note signed by s,
// whose key name must equal c.Origin.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if err := checkOrigin(c.Origin); err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	if c.Size < 0 {
		return nil, fmt.Errorf("signing checkpoint: negative tree size %d", c.Size)
	}
	if c.Size == 0 && c.Root != EmptyRoot {
		return nil, errors.New("signing checkpoint: tree size 0 must have the empty tree root")
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("signing checkpoint: key name %q does not match origin %q", s.Name(), c.Origin)
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Body())}, s)
	if err != nil {
		return nil, fmt.Errorf("signing checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint and parses its body. It
// requires at least one valid signature, by one of verifiers, from a key
// whose name equals the checkpoint origin, and fails if the signature of any
// key in verifiers is invalid. Signatures by keys not in verifiers (for
// example witness cosignatures) are returned in the note's UnverifiedSigs.
// verifiers should hold only log keys; see OpenCosigned for witnesses.
func OpenCheckpoint(signed []byte, verifiers note.Verifiers) (Checkpoint, *note.Note, error) {
	n, err := openNote(signed, verifiers)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	for _, s := range n.Sigs {
		if s.Name == c.Origin {
			return c, n, nil
		}
	}
	return Checkpoint{}, nil, fmt.Errorf("checkpoint for origin %q is not signed by a trusted log key of that name", c.Origin)
}

// openNote wraps note.Open with a size bound and one-line errors.
func openNote(signed []byte, verifiers note.Verifiers) (*note.Note, error) {
	if len(signed) > MaxSignedCheckpointSize {
		return nil, fmt.Errorf("signed checkpoint is %d bytes, larger than the %d byte limit", len(signed), MaxSignedCheckpointSize)
	}
	n, err := note.Open(signed, verifiers)
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, fmt.Errorf("checkpoint is not signed by a trusted key: %w", err)
		case errors.As(err, &invalid):
			return nil, fmt.Errorf("checkpoint signature by key %s+%08x is invalid: %w", invalid.Name, invalid.Hash, err)
		default:
			return nil, fmt.Errorf("malformed signed checkpoint: %w", err)
		}
	}
	return n, nil
}

// splitNote splits a signed note into its text (ending in "\n") and its
// signature lines (each ending in "\n"), checking only the structure.
func splitNote(signed []byte) (text []byte, sigs [][]byte, err error) {
	split := bytes.LastIndex(signed, []byte("\n\n"))
	if split < 0 {
		return nil, nil, errors.New("malformed signed note: no blank line before the signatures")
	}
	text, block := signed[:split+1], signed[split+2:]
	lines, err := splitSigLines(block)
	if err != nil {
		return nil, nil, err
	}
	if len(lines) == 0 {
		return nil, nil, errors.New("malformed signed note: no signature lines")
	}
	return text, lines, nil
}

// splitSigLines splits a block of signature lines, validating each.
func splitSigLines(block []byte) ([][]byte, error) {
	if len(block) > 0 && block[len(block)-1] != '\n' {
		return nil, errors.New("malformed signature lines: missing final newline")
	}
	var lines [][]byte
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := block[:i+1]
		block = block[i+1:]
		if _, _, err := parseSigLine(line); err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	return lines, nil
}

// parseSigLine parses a signature line "— <name> <base64>\n" and returns
// the key name and key ID.
func parseSigLine(line []byte) (name string, id uint32, err error) {
	s, ok := strings.CutSuffix(string(line), "\n")
	if !ok {
		return "", 0, errors.New("malformed signature line: missing final newline")
	}
	rest, ok := strings.CutPrefix(s, "— ")
	if !ok {
		return "", 0, fmt.Errorf("malformed signature line %q: must start with an em dash and a space", s)
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok || !validName(name) {
		return "", 0, fmt.Errorf("malformed signature line %q: bad key name", s)
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) < 5 || strings.ContainsAny(b64, "\r\n") {
		return "", 0, fmt.Errorf("malformed signature line %q: bad signature encoding", s)
	}
	return name, binary.BigEndian.Uint32(sig), nil
}
