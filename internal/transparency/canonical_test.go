package transparency

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	type rec struct {
		Zeta  string            `json:"zeta"`
		Alpha float64           `json:"alpha"`
		Mid   map[string]any    `json:"mid,omitempty"`
		Tags  []string          `json:"tags"`
		Meta  map[string]string `json:"meta"`
	}
	tests := []struct {
		name    string
		in      any
		want    string
		wantErr string
	}{
		{"sorted keys and struct tags", rec{Zeta: "z", Alpha: 0.5, Tags: []string{"b", "a"}, Meta: map[string]string{"y": "1", "x": "2"}},
			`{"alpha":0.5,"meta":{"x":"2","y":"1"},"tags":["b","a"],"zeta":"z"}`, ""},
		{"raw json reordered", json.RawMessage(` { "b" : [ 1 , 2 ], "a" : { "d" : null, "c" : true } } `), `{"a":{"c":true,"d":null},"b":[1,2]}`, ""},
		{"no html escaping", map[string]string{"h": "<a href='x'>&</a>"}, `{"h":"<a href='x'>&</a>"}`, ""},
		{"minimal escapes", "q\"b\\n\n\t\x01\x1f\u2028é😀", `"q\"b\\n\n\t\u0001\u001f` + "\u2028é😀" + `"`, ""},
		{"escaped input unescaped", json.RawMessage(`"\u00e9\/\u0041"`), `"é/A"`, ""},
		{"integral float", 3.0, `3`, ""},
		{"negative zero", math.Copysign(0, -1), `0`, ""},
		{"negative zero literal", json.RawMessage(`-0`), `0`, ""},
		{"fraction", 0.1, `0.1`, ""},
		{"third", 1.0 / 3, `0.3333333333333333`, ""},
		{"large float", 1e21, `1e+21`, ""},
		{"large float literal", json.RawMessage(`1000e18`), `1e+21`, ""},
		{"below 1e21 literal", json.RawMessage(`1e20`), `100000000000000000000`, ""},
		{"below 1e21 float", 1e20, `100000000000000000000`, ""},
		{"2^53 as float", float64(1 << 53), `9007199254740992`, ""},
		{"small float", 1.5e-7, `1.5e-7`, ""},
		{"small float literal", json.RawMessage(`0.00000015`), `1.5e-7`, ""},
		{"1e-6", json.RawMessage(`1e-6`), `0.000001`, ""},
		{"tiny", 5e-324, `5e-324`, ""},
		{"mid float", 1234567.5, `1234567.5`, ""},
		{"negative exponent literal", json.RawMessage(`-2.5E-10`), `-2.5e-10`, ""},
		{"exponent literal", json.RawMessage(`1E2`), `100`, ""},
		{"fraction literal", json.RawMessage(`2.50`), `2.5`, ""},
		{"int64 max", int64(math.MaxInt64), `9223372036854775807`, ""},
		{"uint64 max", uint64(math.MaxUint64), `18446744073709551615`, ""},
		{"big integer literal kept", json.RawMessage(`123456789012345678901234567890`), `123456789012345678901234567890`, ""},
		{"huge exponent", json.RawMessage(`1e400`), ``, "not a finite float64"},
		{"duplicate key", json.RawMessage(`{"a":1,"a":2}`), ``, "duplicate object key"},
		{"nested duplicate key", json.RawMessage(`[{"x":{"k":1,"k":1}}]`), ``, "duplicate object key"},
		{"nan", math.NaN(), ``, "unsupported value"},
		{"channel", make(chan int), ``, "unsupported type"},
		{"empty containers", map[string]any{"a": []int{}, "b": map[string]int{}, "c": nil}, `{"a":[],"b":{},"c":null}`, ""},
		{"bytewise key order", map[string]int{"é": 1, "z": 2, "Z": 3, "\uffff": 4, "😀": 5}, `{"Z":3,"z":2,"é":1,"` + "\uffff" + `":4,"😀":5}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("CanonicalJSON = %s\nwant            %s", got, tt.want)
			}
			again, err := CanonicalJSON(json.RawMessage(got))
			if err != nil || string(again) != string(got) {
				t.Fatalf("not idempotent: %s -> %s (%v)", got, again, err)
			}
			if !json.Valid(got) {
				t.Fatalf("output is not valid JSON: %s", got)
			}
		})
	}
}

func TestCanonicalJSONFloatRoundTrip(t *testing.T) {
	for _, f := range []float64{0.1, 0.2, 1.0 / 3, 2.5e-300, 1.7976931348623157e308, 5e-324, 123456.789, -0.71, 0.6, 1e15 + 0.5} {
		got, err := CanonicalJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		back, err := strconv.ParseFloat(string(got), 64)
		if err != nil || back != f {
			t.Fatalf("%v -> %s -> %v (%v)", f, got, back, err)
		}
	}
}
