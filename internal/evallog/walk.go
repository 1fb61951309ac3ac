package evallog

import (
	"fmt"
	"math"
	"strconv"
)

// Typed reads used by the format walkers. path names the value in error
// messages, e.g. "results.scores[0].metrics.accuracy.value".

func typeErr(path string, want string, got byte) error {
	return invalidf("%s: expected %s, found %s", path, want, kindName(got))
}

// str reads a string value.
func (s *scanner) str(path string) (string, error) {
	v, err := s.value()
	if err != nil {
		return "", err
	}
	if v.kind != kindString {
		return "", typeErr(path, "a string", v.kind)
	}
	return v.text, nil
}

// optStr reads a string or null (→ "").
func (s *scanner) optStr(path string) (string, error) {
	v, err := s.value()
	if err != nil {
		return "", err
	}
	switch v.kind {
	case kindString:
		return v.text, nil
	case kindNull:
		return "", nil
	}
	return "", typeErr(path, "a string", v.kind)
}

// version reads a version that may be a string or a number (kept as
// written) or null (→ "").
func (s *scanner) version(path string) (string, error) {
	v, err := s.value()
	if err != nil {
		return "", err
	}
	switch v.kind {
	case kindString, kindNumber:
		return v.text, nil
	case kindNull:
		return "", nil
	}
	return "", typeErr(path, "a string or number", v.kind)
}

// count reads a non-negative integer count, or null (→ -1).
func (s *scanner) count(path string) (int, error) {
	v, err := s.value()
	if err != nil {
		return 0, err
	}
	switch v.kind {
	case kindNull:
		return -1, nil
	case kindNumber:
		return countOf(path, v)
	}
	return 0, typeErr(path, "an integer", v.kind)
}

func countOf(path string, v scalarValue) (int, error) {
	f := v.num
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		return 0, invalidf("%s: %s is not a valid count", path, v.text)
	}
	return int(f), nil
}

// boolean reads a boolean or null (→ false).
func (s *scanner) boolean(path string) (bool, error) {
	v, err := s.value()
	if err != nil {
		return false, err
	}
	switch v.kind {
	case kindBool:
		return v.b, nil
	case kindNull:
		return false, nil
	}
	return false, typeErr(path, "a boolean", v.kind)
}

// finite reads a number that must be finite.
func (s *scanner) finite(path string) (float64, error) {
	v, err := s.value()
	if err != nil {
		return 0, err
	}
	return finiteOf(path, v)
}

func finiteOf(path string, v scalarValue) (float64, error) {
	if v.kind != kindNumber {
		if v.kind == kindObject || v.kind == kindArray {
			return 0, typeErr(path, "a number", v.kind)
		}
		return 0, invalidf("%s: expected a number, found %s", path, describe(v))
	}
	if math.IsNaN(v.num) || math.IsInf(v.num, 0) {
		return 0, invalidf("%s: %s is not a finite number", path, v.text)
	}
	return v.num, nil
}

// describe renders a scalar for an error message.
func describe(v scalarValue) string {
	switch v.kind {
	case kindString:
		t := v.text
		if len(t) > 40 {
			t = t[:40] + "…"
		}
		return "string " + strconv.Quote(t)
	case kindBool:
		return fmt.Sprint(v.b)
	case kindNumber:
		return v.text
	}
	return kindName(v.kind)
}

// stringMap reads an object, keeping its string-valued members.
func (s *scanner) stringMap(into map[string]string) error {
	return s.object(func(key string) error {
		v, err := s.value()
		if err != nil {
			return err
		}
		switch v.kind {
		case kindString:
			into[key] = v.text
		case kindObject, kindArray:
			return s.skip()
		default:
			delete(into, key) // a later non-string value replaces an earlier one
		}
		return nil
	})
}

// isNull consumes a null at the cursor and reports whether it was there.
func (s *scanner) isNull() (bool, error) {
	c, err := s.peek()
	if err != nil {
		return false, s.endErr(err, "expecting a value")
	}
	if c != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

// child names member key of the value at path: path.key, or path["key"]
// when the key is not a plain identifier.
func child(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

func elem(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
