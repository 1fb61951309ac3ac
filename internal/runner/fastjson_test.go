package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

var completionBodies = []string{
	`{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ANSWER: A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":3,"total_tokens":53}}`,
	` { "choices" : [ { "message" : { "content" : "esc\"aped\n\u00e9\ud83d\ude00" , "role":"assistant", "tool_calls": [{"id": "t", "function": {"arguments": "{}"}}]}, "finish_reason": null, "logprobs": {"content": [1.5e3, -2, true, false, null]} }, {"message": {"content": "second"}} ], "usage": null, "system_fingerprint": "fp" } `,
	`{"choices":[{"message":{"content":null}}],"model":"x","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}`,
	`{"choices":[{"message":{"content":[{"type":"text","text":"parts"}]}}]}`,
	`{"choices":[]}`,
	`{"choices":[{"message":{"content":"x"}}],"choices":[{"message":{"content":"y"}}]}`,
	`{"error":{"message":"overloaded"}}`,
	`{"choices":[{"message":{"content":"x"`,
	`{"choices":[{"message":{"content":"x"}}]}trailing`,
	`{"choices":[{"message":{"content":"x"}}],"usage":{"total_tokens":1.5}}`,
	`{"choices":[{"message":{"content":"bad \x01 control"}}]}`,
	`{"choices":[{"finish_reason":"stop"}]}`,
	`[1,2]`,
	``,
	`{"choices":[{"message":{"content":"x"}}],"n":01}`,
}

// TestFastCompletionAgrees checks the scanner against the full decoder:
// whatever the scanner accepts, the decoder reads the same way.
func TestFastCompletionAgrees(t *testing.T) {
	fast := 0
	for _, b := range completionBodies {
		checkFastCompletion(t, []byte(b))
		if _, err := fastCompletion([]byte(b)); err == nil {
			fast++
		}
	}
	if fast != 3 {
		t.Errorf("the scanner read %d of the bodies, want 3", fast)
	}
}

func checkFastCompletion(t *testing.T, b []byte) {
	t.Helper()
	got, err := fastCompletion(b)
	if err != nil {
		if !errors.Is(err, errFallback) {
			t.Errorf("fastCompletion(%q) error %v, want errFallback", b, err)
		}
		return
	}
	want, err := decodeCompletion(b)
	if err != nil {
		t.Errorf("fastCompletion accepted %q, the decoder refuses it: %v", b, err)
		return
	}
	if *got != *want {
		t.Errorf("fastCompletion(%q) = %+v, the decoder reads %+v", b, got, want)
	}
}

func FuzzFastCompletion(f *testing.F) {
	for _, b := range completionBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(checkFastCompletion)
}

func BenchmarkParseCompletion(b *testing.B) {
	body := []byte(runnertest.StubBody)
	b.Run("scanner", func(b *testing.B) {
		for b.Loop() {
			if _, err := fastCompletion(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeCompletion(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendJSONStringMatchesEncodingJSON checks the request encoder's
// strings (whose plain runs are skipped eight bytes at a time) against
// encoding/json, on strings made of the bytes that matter to it.
func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	pieces := []string{"a", "plain text", "\"", "\\", "\n", "\t", "\x00", "\x1f", " ", "~", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "<>&", "0123456789abcdef"}
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		for k := rng.IntN(20); k >= 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if got := appendJSONString(nil, s); string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want.String())
		}
	}
}
